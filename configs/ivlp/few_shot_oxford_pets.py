# IVLP few-shot on OxfordPets: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/ivlp_few_shot.py']

dataset = dict(type='CoOpOxfordPets')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
