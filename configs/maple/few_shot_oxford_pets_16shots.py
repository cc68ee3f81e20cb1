# MaPLe few-shot on OxfordPets: 16 shots per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpOxfordPets', data_root='data/oxford_pets', num_shots=16)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
