# CoOp few-shot on StanfordCars, RN50, a context per class (CSC): K shots of every class (K = 16, or
# --shots K).
_base_ = ['../_base_/recipes/coop_few_shot_rn50.py']

# TRAINER.COOP.CSC True (scripts/coop/main.sh): one context per class of StanfordCars's 196.
model = dict(prompt_learner=dict(class_specific=True, num_classes=196))

dataset = dict(type='CoOpStanfordCars')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
