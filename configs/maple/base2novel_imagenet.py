# MaPLe base-to-novel on ImageNet: train on the base classes (16 shots), then test
# Base, Novel and HM. Recipe: ../_base_/maple_vit_b16_base2novel.py.
_base_ = ['../_base_/maple_vit_b16_base2novel.py']

dataset = dict(type='CoOpImageNet', data_root='data/imagenet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
