# CoOp few-shot on Caltech101, RN50, a context per class (CSC): K shots of every class (K = 16, or
# --shots K).
_base_ = ['../_base_/recipes/coop_few_shot_rn50.py']

# TRAINER.COOP.CSC True (scripts/coop/main.sh): one context per class of Caltech101's 100.
model = dict(prompt_learner=dict(class_specific=True, num_classes=100))

dataset = dict(type='CoOpCaltech101')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
