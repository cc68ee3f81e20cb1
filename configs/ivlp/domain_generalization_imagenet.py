# IVLP domain generalisation: the cross-dataset training, tested on ImageNet and
# ImageNetV2, ImageNet-Sketch, -A and -R. No retraining: test the cross-dataset checkpoints,
#   python tools/run_sweep.py configs/ivlp/domain_generalization_imagenet.py \
#       --test-from work_dirs/ivlp/cross_dataset_imagenet
_base_ = ['../_base_/recipes/ivlp_cross_dataset.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
