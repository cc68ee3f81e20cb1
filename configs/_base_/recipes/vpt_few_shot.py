# VPT, few-shot: SGD lr 0.0025, batch 4, 50 epochs.
# The reference ships no few-shot config for VPT; as for MaPLe
# (docs/benchmarks.md), the base-to-novel recipe with 50 epochs, on all classes.
# Source: configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/vpt.py', '../protocols/few_shot.py',
    '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=4, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=4)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.0025))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# VPT trains in fp32 on every device, as its reference does (trainers/vpt.py loads CLIP
# with .float(), whatever PREC says); docs/benchmarks.md#precision.
precision = dict(cuda='fp32')
