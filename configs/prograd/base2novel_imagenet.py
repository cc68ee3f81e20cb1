# ProGrad base-to-novel on ImageNet: trains on the base classes; Base, Novel, HM.
_base_ = ['../_base_/recipes/prograd_base2novel.py']

dataset = dict(type='CoOpImageNet')
train_dataloader = dict(dataset=dataset)
test_dataloader = dict(dataset=dataset)

# ImageNet trains 50 epochs (rn50_ep50.yaml).
# Source: ProGrad.public/README.md line 132 (BeierZhu/Prompt-align)
train_cfg = dict(max_epochs=50)
