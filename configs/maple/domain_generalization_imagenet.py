# MaPLe domain generalisation: the prompts learnt on ImageNet by
# cross_dataset_imagenet.py (same training, inherited unchanged) tested on
# ImageNet (source) and on ImageNet-V2 / -Sketch / -A / -R (targets; A and R over
# their own 200 classes). Reports '<set>/accuracy/top1' per set and
# 'target_average' (mean over the 4 variants).
# No retraining is needed: evaluate the cross-dataset checkpoint of each seed, e.g.
#   python tools/test.py configs/maple/domain_generalization_imagenet.py \
#       work_dirs/cross_dataset_imagenet/seed1/epoch_2.pth --seed 1
# or for every seed: python tools/run_sweep.py configs/maple/domain_generalization_imagenet.py \
#       --test-from work_dirs/cross_dataset_imagenet
_base_ = ['./cross_dataset_imagenet.py']

variant = dict(split='test', seed={{_base_.seed}}, pipeline={{_base_.test_pipeline}})
variant_sets = dict(
    imagenetv2=dict(variant, type='CoOpImageNetV2', data_root='data/imagenetv2'),
    imagenet_sketch=dict(variant, type='CoOpImageNetSketch', data_root='data/imagenet-sketch'),
    imagenet_a=dict(variant, type='CoOpImageNetA', data_root='data/imagenet-adversarial'),
    imagenet_r=dict(variant, type='CoOpImageNetR', data_root='data/imagenet-rendition'),
)
test_cfg = dict(_delete_=True, type='MultiSetTestLoop', name='imagenet',
                extra_sets=variant_sets, averages=dict(target_average=list(variant_sets)))
