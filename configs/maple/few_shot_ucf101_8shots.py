# MaPLe few-shot on UCF101: 8 shots per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpUCF101', data_root='data/ucf101', num_shots=8)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
