# ProGrad base-to-novel on EuroSAT: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpEuroSAT')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of EuroSAT starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['EuroSAT'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a centered satellite photo of {}.'))
