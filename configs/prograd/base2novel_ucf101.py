# ProGrad base-to-novel on UCF101: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpUCF101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of UCF101 starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['UCF101'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a photo of a person doing {}.'))
