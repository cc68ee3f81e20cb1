# MaPLe few-shot on SUN397: 2 shots per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpSUN397', data_root='data/sun397', num_shots=2)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
