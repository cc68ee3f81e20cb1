# MaPLe, cross-dataset and domain generalisation: prompt depth 3; SGD lr 0.0026, batch 4,
# 2 epochs.
# Source: configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/maple.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, prompt_learner=dict(depth=3))
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.0026))
train_cfg = dict(max_epochs=2)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
