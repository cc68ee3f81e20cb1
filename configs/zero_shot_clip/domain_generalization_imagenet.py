# Zero-shot CLIP domain generalisation: tests ImageNet and ImageNetV2, ImageNet-Sketch, -A and -R
# (tools/test.py, no checkpoint).
_base_ = ['../_base_/recipes/zero_shot_clip_cross_dataset.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
