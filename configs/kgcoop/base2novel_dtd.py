# KgCoOp base-to-novel on DTD: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/kgcoop_base2novel.py']

dataset = dict(type='CoOpDTD')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# KgCoOp's frozen prompts use its own template table, which for DTD differs from the CoOp
# family's ("{} texture.").
# Source: CUSTOM_TEMPLATES['DescribableTextures'] in KgCoOp/trainers/kgcoop.py (htyao89/KgCoOp)
model = dict(prompt_learner=dict(template='a photo of a {}, a type of texture.'))
