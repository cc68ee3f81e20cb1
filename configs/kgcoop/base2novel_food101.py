# KgCoOp base-to-novel on Food101: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/kgcoop_base2novel.py']

dataset = dict(type='CoOpFood101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
