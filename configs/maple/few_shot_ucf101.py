# MaPLe few-shot on UCF101: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/maple_few_shot.py']

dataset = dict(type='CoOpUCF101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
