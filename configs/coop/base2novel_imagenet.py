# CoOp base-to-novel on ImageNet: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/coop_base2novel.py']

# ImageNet trains 50 epochs (vit_b16_ep50_ctxv1.yaml, scripts/cocoop/base2new_train.sh of
# KaiyangZhou/CoOp).
train_cfg = dict(max_epochs=50)

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
