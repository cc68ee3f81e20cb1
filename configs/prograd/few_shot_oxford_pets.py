# ProGrad few-shot on OxfordPets: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/prograd_few_shot.py']

dataset = dict(type='CoOpOxfordPets')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of OxfordPets starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['OxfordPets'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a type of pet, a photo of a {}.'))
