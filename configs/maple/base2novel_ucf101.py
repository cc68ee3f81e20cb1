# MaPLe base-to-novel on UCF101: train on the base classes (16 shots), then test
# Base, Novel and HM. Recipe: ../_base_/maple_vit_b16_base2novel.py.
_base_ = ['../_base_/maple_vit_b16_base2novel.py']

dataset = dict(type='CoOpUCF101', data_root='data/ucf101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
