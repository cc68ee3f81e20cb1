# CoOp, base-to-novel, as the published CoOp rows were trained (the CoCoOp paper's, which
# the MaPLe paper takes over): 4 context vectors from "a photo of a"; SGD lr 0.002,
# batch 32, 200 epochs (ImageNet 50: base2novel_imagenet.py).
# Source: configs/trainers/CoOp/vit_b16_ctxv1.yaml (ImageNet: vit_b16_ep50_ctxv1.yaml) as
#   scripts/cocoop/base2new_train.sh runs CoOp (KaiyangZhou/CoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py',
    '../protocols/base2novel.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(
    backbone={{_base_.clip_backbone}}, prompt_learner=dict(n_ctx=4, ctx_init='a photo of a'))
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=200)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
