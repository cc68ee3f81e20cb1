# ProGrad few-shot on StanfordCars: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/prograd_few_shot.py']

dataset = dict(type='CoOpStanfordCars')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
