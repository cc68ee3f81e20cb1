# ProGrad domain generalisation: the cross-dataset training, tested on ImageNet and
# ImageNet-V2, -Sketch, -A and -R. No retraining: test the cross-dataset checkpoints,
#   python tools/run_sweep.py configs/prograd/domain_generalization_imagenet.py \
#       --test-from work_dirs/prograd/cross_dataset_imagenet
_base_ = ['../_base_/recipes/prograd_cross_dataset.py']

protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
