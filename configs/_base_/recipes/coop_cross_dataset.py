# CoOp, cross-dataset and domain generalisation: SGD lr 0.002, batch 32, 50 epochs. The
# reference has no CoOp cross-dataset script: the config docs/CoOp.md trains ImageNet with
# (scripts/coop/eval.sh tests its epoch 50 on the ImageNet variants).
# Source: configs/trainers/CoOp/vit_b16_ep50.yaml (muzairkhattak/multimodal-prompt-learning)
_base_ = ['../default_runtime.py', '../clip_vit_b16.py', '../models/coop.py',
          '../protocols/cross_dataset.py', '../schedules/sgd_warmup_cosine.py']

model = dict(backbone={{_base_.clip_backbone}}, data_preprocessor={{_base_.clip_preprocessor}})
train_dataloader = dict(batch_size=32, dataset={{_base_.train_set}})
test_dataloader = dict(dataset={{_base_.test_set}})

max_epochs = 50
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
