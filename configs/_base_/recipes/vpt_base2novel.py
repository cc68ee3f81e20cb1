# VPT, base-to-novel: SGD lr 0.0025, batch 4, 5 epochs.
# Source: configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/vpt.py', '../protocols/base2novel.py',
    '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.0025))
train_cfg = dict(max_epochs=5)
# VPT trains in fp32 on every device, as its reference does (trainers/vpt.py loads CLIP
# with .float(), whatever PREC says); docs/benchmarks.md#precision.
precision = dict(cuda='fp32')
