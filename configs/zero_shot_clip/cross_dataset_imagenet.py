# Zero-shot CLIP cross-dataset: tests ImageNet and the 10 other datasets (tools/test.py, no
# checkpoint).
_base_ = ['../_base_/recipes/zero_shot_clip_cross_dataset.py']
