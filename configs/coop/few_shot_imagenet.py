# CoOp few-shot on ImageNet: K shots of every class (K = 16, or --shots K).
_base_ = ['../_base_/recipes/coop_few_shot.py']

# CoOp trains ImageNet for 50 epochs at every K (its docs/CoOp.md).
values_by_shots = dict(max_epochs={1: 50, 2: 50, 4: 50, 8: 50, 16: 50})
train_cfg = dict(max_epochs=50)

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
