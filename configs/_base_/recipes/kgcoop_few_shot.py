# KgCoOp, few-shot: the base-to-novel config (W 8, SGD lr 0.002, batch 128, 100 epochs) on all
# classes; the reference ships no few-shot script besides scripts/xd_train.sh, which trains
# every dataset on 4 shots this way (--shots 4).
# Source: KgCoOp/configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml (htyao89/KgCoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/kgcoop.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=128, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=128)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 100
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16: mixed precision on CUDA (fp16 autocast, dynamic loss scaling, fp32
# prompts), fp32 on CPUs; docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
