# CoOp, cross-dataset and domain generalisation, as the CoCoOp and MaPLe papers' CoOp rows
# were trained on ImageNet: 4 context vectors from "a photo of a"; SGD lr 0.002, batch 32,
# 50 epochs.
# Source: configs/trainers/CoOp/vit_b16_ep50_ctxv1.yaml as scripts/cocoop/xd_train.sh runs CoOp
#   (KaiyangZhou/CoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py',
    '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(
    backbone={{_base_.clip_backbone}},
    data_preprocessor={{_base_.clip_preprocessor}},
    prompt_learner=dict(n_ctx=4, ctx_init='a photo of a'))
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
# --auto-scale-lr scales the lr by the total batch / this batch.
auto_scale_lr = dict(base_batch_size=32)
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
# PREC fp16: mixed precision on CUDA (fp16 autocast, dynamic loss scaling, fp32
# prompts), fp32 on CPUs; docs/benchmarks.md#precision.
precision = dict(cuda='fp16')
