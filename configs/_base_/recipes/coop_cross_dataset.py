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
    backbone={{_base_.clip_backbone}}, prompt_learner=dict(n_ctx=4, ctx_init='a photo of a'))
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=50)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
