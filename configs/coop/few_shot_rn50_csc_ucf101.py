# CoOp few-shot on UCF101, RN50, a context per class (CSC): K shots of every class (K = 16, or
# --shots K).
_base_ = ['../_base_/recipes/coop_few_shot_rn50.py']

# TRAINER.COOP.CSC True (scripts/coop/main.sh): one context per class of UCF101's 101.
model = dict(prompt_learner=dict(class_specific=True, num_classes=101))

dataset = dict(type='CoOpUCF101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
