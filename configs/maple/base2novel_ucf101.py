# MaPLe base-to-novel on UCF101: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/maple_base2novel.py']

dataset = dict(type='CoOpUCF101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
