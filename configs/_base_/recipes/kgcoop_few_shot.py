# KgCoOp, few-shot: the base-to-novel config (W 8, SGD lr 0.002, batch 128, 100 epochs) on all
# classes; the reference ships no few-shot script besides scripts/xd_train.sh, which trains
# every dataset on 4 shots this way (--shots 4).
# Source: KgCoOp/configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml (htyao89/KgCoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/kgcoop.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=128, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=100)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
