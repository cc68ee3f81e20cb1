# CoOp, few-shot: SGD lr 0.002, batch 32; the epochs depend on K as CoOp trains (1 shot 50,
# 2 and 4 shots 100, 8 and 16 shots 200; ImageNet 50 at every K): tools/train.py --shots K
# applies values_by_shots to train_cfg.max_epochs (the lr schedule follows it).
# Source: configs/trainers/CoOp/vit_b16{_ep50,_ep100,}.yaml by K, as docs/CoOp.md runs them
#   (muzairkhattak/multimodal-prompt-learning)
_base_ = [
    '../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py', '../protocols/few_shot.py',
    '../schedules/sgd_warmup_cosine.py'
]

model = dict(backbone={{_base_.clip_backbone}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
auto_scale_lr = dict(base_batch_size=train_dataloader['batch_size'])
test_dataloader = dict(dataset={{_base_.test_set}})

values_by_shots = dict(max_epochs={1: 50, 2: 100, 4: 100, 8: 200, 16: 200})
optim_wrapper = dict(optimizer=dict(lr=0.002))
train_cfg = dict(max_epochs=values_by_shots['max_epochs'][_base_.train_set.num_shots])
precision = dict(cuda='fp16')  # the reference's PREC (docs/benchmarks.md#precision)
