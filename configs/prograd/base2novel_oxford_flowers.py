# ProGrad base-to-novel on Flowers102: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpFlowers102')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of Flowers102 starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['OxfordFlowers'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a type of flower, a photo of a {}.'))
