# CoCoOp, few-shot: SGD lr 0.002, batch 1, 50 epochs.
# The reference ships no few-shot config for CoCoOp; as for MaPLe
# (docs/benchmarks.md), the base-to-novel recipe with 50 epochs, on all classes.
# Source: configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/cocoop.py',
    '../protocols/few_shot.py', '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=1, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=50)
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
