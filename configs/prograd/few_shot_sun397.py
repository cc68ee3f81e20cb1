# ProGrad few-shot on SUN397: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/prograd_few_shot.py']

dataset = dict(type='CoOpSUN397')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
