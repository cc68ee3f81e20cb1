# CoOp few-shot on DTD, RN50, a context per class (CSC): K shots of every class (K = 16, or
# --shots K).
_base_ = ['../_base_/recipes/coop_few_shot_rn50.py']

# TRAINER.COOP.CSC True (scripts/coop/main.sh): one context per class of DTD's 47.
model = dict(prompt_learner=dict(class_specific=True, num_classes=47))

dataset = dict(type='CoOpDTD')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
