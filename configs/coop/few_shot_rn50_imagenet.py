# CoOp few-shot on ImageNet, RN50: K shots of every class (K = 16, or
# --shots K).
_base_ = ['../_base_/recipes/coop_few_shot_rn50.py']

# CoOp trains ImageNet for 50 epochs at every K (rn50_ep50.yaml, as COOP.md says).
values_by_shots = dict(max_epochs={1: 50, 2: 50, 4: 50, 8: 50, 16: 50})
train_cfg = dict(max_epochs=50)

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
