# MaPLe, few-shot: SGD lr 0.0035, batch 4, 50 epochs. The reference ships no few-shot
# config: its base-to-novel recipe with 50 epochs, as the authors' PromptSRC few-shot
# configs do (docs/benchmarks.md).
# Source: configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/maple.py', '../protocols/few_shot.py',
    '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.0035))
train_cfg = dict(max_epochs=50)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
