# Language prompting base-to-novel on ImageNet: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/language_prompting_base2novel.py']

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
