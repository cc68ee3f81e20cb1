# MaPLe few-shot on StanfordCars: 2 shots per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpStanfordCars', data_root='data/stanford_cars', num_shots=2)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
