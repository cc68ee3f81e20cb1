# Zero-shot CLIP on RN50, the CoOp paper's Table 1 row: tests ImageNet and ImageNet-V2,
# -Sketch, -A and -R (tools/test.py, no checkpoint).
_base_ = ['../_base_/recipes/zero_shot_clip_cross_dataset_rn50.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
