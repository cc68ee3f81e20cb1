# ProGrad base-to-novel on ImageNet: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpImageNet', data_root='data/imagenet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)

# ImageNet trains 50 epochs (rn50_ep50.yaml).
# Source: ProGrad.public/README.md line 132 (BeierZhu/Prompt-align)
max_epochs = 50
param_scheduler = dict(T_max=max_epochs)
train_cfg = dict(max_epochs=max_epochs)
