# CoOp, the CoOp paper's Table 1 on RN101: train on ImageNet (all classes, 16 shots, 16
# context vectors), then test ImageNet and ImageNet-V2, -Sketch, -A and -R in the same run.
_base_ = ['../_base_/recipes/coop_cross_dataset_rn101.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
