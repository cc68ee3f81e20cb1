# ProGrad base-to-novel on FGVCAircraft: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpFGVCAircraft')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# ProGrad's own template of FGVCAircraft starts the context and prompts the teacher.
# Source: CUSTOM_TEMPLATES['FGVCAircraft'] in ProGrad.public/trainers/prograd.py
#   (BeierZhu/Prompt-align)
model = dict(prompt_learner=dict(template='a type of aircraft, a photo of a {}.'))
