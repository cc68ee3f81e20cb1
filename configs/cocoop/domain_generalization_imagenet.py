# CoCoOp domain generalisation: the cross-dataset training, tested on ImageNet and
# ImageNetV2, ImageNet-Sketch, -A and -R. No retraining: test the cross-dataset checkpoints,
#   python tools/run_sweep.py configs/cocoop/domain_generalization_imagenet.py \
#       --test-from work_dirs/cocoop/cross_dataset_imagenet
_base_ = ['../_base_/recipes/cocoop_cross_dataset.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
