# KgCoOp few-shot on ImageNet: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/kgcoop_few_shot.py']

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
