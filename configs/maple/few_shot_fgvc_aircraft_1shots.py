# MaPLe few-shot on FGVCAircraft: 1 shot per class, all classes.
# Recipe and the source of its schedule: ../_base_/maple_vit_b16_few_shot.py.
_base_ = ['../_base_/maple_vit_b16_few_shot.py']

dataset = dict(type='CoOpFGVCAircraft', data_root='data/fgvc_aircraft', num_shots=1)
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)
