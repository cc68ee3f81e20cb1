# Zero-shot CLIP on RN50: tests ImageNet and the 10 other datasets, the zero-shot baseline of
# the CoOp paper's few-shot figure (tools/test.py, no checkpoint).
_base_ = ['../_base_/recipes/zero_shot_clip_cross_dataset_rn50.py']
