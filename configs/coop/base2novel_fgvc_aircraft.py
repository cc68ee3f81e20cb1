# CoOp base-to-novel on FGVCAircraft: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/coop_base2novel.py']

dataset = dict(type='CoOpFGVCAircraft')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
