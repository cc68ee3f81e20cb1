# ProGrad cross-dataset transfer: train on ImageNet (all classes, 4 shots), then test
# ImageNet and the 10 other datasets with the same prompts.
_base_ = ['../_base_/recipes/prograd_cross_dataset.py']
