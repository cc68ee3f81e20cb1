# ProGrad base-to-novel on Caltech101: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpCaltech101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
