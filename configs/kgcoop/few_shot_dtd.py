# KgCoOp few-shot on DTD: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/kgcoop_few_shot.py']

dataset = dict(type='CoOpDTD')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
# KgCoOp's frozen prompts use its own template table, which for DTD differs from the CoOp
# family's ("{} texture.").
# Source: CUSTOM_TEMPLATES['DescribableTextures'] in KgCoOp/trainers/kgcoop.py (htyao89/KgCoOp)
model = dict(prompt_learner=dict(template='a photo of a {}, a type of texture.'))
