# ProGrad base-to-novel on OxfordPets: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpOxfordPets')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of OxfordPets starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['OxfordPets'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a type of pet, a photo of a {}.'))
