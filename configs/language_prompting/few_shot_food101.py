# Language prompting few-shot on Food101: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/language_prompting_few_shot.py']

dataset = dict(type='CoOpFood101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
