# KgCoOp, base-to-novel: W 8, SGD lr 0.002, batch 128, 100 epochs (scripts/base2new_train.sh:
# TRAINER.COOP.W 8.0, N_CTX 4, CSC False, class token at the end).
# Source: KgCoOp/configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml (htyao89/KgCoOp)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/kgcoop.py',
    '../protocols/base2novel.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=128, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=100)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
