# MaPLe few-shot on EuroSAT: 1 shot per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpEuroSAT', data_root='data/eurosat', num_shots=1)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
