# PromptSRC, cross-dataset and domain generalisation: prompts in the first 3 layers only,
# SGD lr 0.0025, batch 4, 20 epochs, GPA mean 6, std 10, 16 shots of all ImageNet classes.
# (scripts/promptsrc/xd_train.sh names an "ep5" config that does not exist; the shipped
# file has 20 epochs, and xd_test.sh loads epoch 20.)
# Source: configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets.yaml
#   (muzairkhattak/PromptSRC)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/promptsrc.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, prompt_learner=dict(depth_text=3, depth_vision=3))
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})
default_hooks = dict(gpa=dict(type='GaussianPromptAggregationHook', mean=6, std=10))

optim_wrapper = dict(optimizer=dict(lr=0.0025))
train_cfg = dict(max_epochs=20)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
