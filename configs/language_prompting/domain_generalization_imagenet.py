# Language prompting domain generalisation: the cross-dataset training, tested on ImageNet and
# ImageNetV2, ImageNet-Sketch, -A and -R. No retraining: test the cross-dataset checkpoints,
#   python tools/run_sweep.py configs/language_prompting/domain_generalization_imagenet.py \
#       --test-from work_dirs/language_prompting/cross_dataset_imagenet
_base_ = ['../_base_/recipes/language_prompting_cross_dataset.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
