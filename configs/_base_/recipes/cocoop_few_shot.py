# CoCoOp, few-shot: SGD lr 0.002, batch 1, 50 epochs.
# The reference ships no few-shot config for CoCoOp; as for MaPLe
# (docs/benchmarks.md), the base-to-novel recipe with 50 epochs, on all classes.
# Source: configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/cocoop.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=1, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=1)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16: mixed precision on CUDA (fp16 autocast, dynamic loss scaling, fp32
# prompts), fp32 on CPUs; docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
