# Transfer from ImageNet (docs/benchmarks.md; reference scripts/maple/xd_*.sh): train on ImageNet,
# ALL 1000 classes, 16 shots;
# then test the same prompts, without further training, in one run:
# - cross-dataset (test_cfg): ImageNet (source) and the 10 other datasets (targets, all
#   classes of their test splits);
# - domain generalisation (domain_generalization_test_cfg, which the
#   domain_generalization_imagenet.py configs select): ImageNet and ImageNet-V2 / -Sketch /
#   -A / -R (A and R over their own 200 classes). Both train alike, so a domain
#   generalisation run can test a cross-dataset checkpoint.
# Each reports '<set>/accuracy/top1' and 'target_average', the mean over the targets.
# Every test set takes the main test set's transforms (MultiSetTestLoop).
protocol = 'cross_dataset'
train_set = dict(
    type='CoOpImageNet',
    data_root='data/imagenet',
    split='train',
    subsample='all',
    num_shots=16,
    seed=1)
test_set = dict(train_set, split='test')

target = dict(split='test', subsample='all', seed=1)
target_sets = dict(
    caltech101=dict(target, type='CoOpCaltech101', data_root='data/caltech-101'),
    oxford_pets=dict(target, type='CoOpOxfordPets', data_root='data/oxford_pets'),
    stanford_cars=dict(target, type='CoOpStanfordCars', data_root='data/stanford_cars'),
    oxford_flowers=dict(target, type='CoOpFlowers102', data_root='data/oxford_flowers'),
    food101=dict(target, type='CoOpFood101', data_root='data/food-101'),
    fgvc_aircraft=dict(target, type='CoOpFGVCAircraft', data_root='data/fgvc_aircraft'),
    sun397=dict(target, type='CoOpSUN397', data_root='data/sun397'),
    dtd=dict(target, type='CoOpDTD', data_root='data/dtd'),
    eurosat=dict(target, type='CoOpEuroSAT', data_root='data/eurosat'),
    ucf101=dict(target, type='CoOpUCF101', data_root='data/ucf101'),
)
test_cfg = dict(
    type='MultiSetTestLoop',
    name='imagenet',
    extra_sets=target_sets,
    averages=dict(target_average=list(target_sets)))

variant = dict(split='test', seed=1)
variant_sets = dict(
    imagenetv2=dict(variant, type='CoOpImageNetV2', data_root='data/imagenetv2'),
    imagenet_sketch=dict(variant, type='CoOpImageNetSketch', data_root='data/imagenet-sketch'),
    imagenet_a=dict(variant, type='CoOpImageNetA', data_root='data/imagenet-adversarial'),
    imagenet_r=dict(variant, type='CoOpImageNetR', data_root='data/imagenet-rendition'),
)
# `_delete_`: it replaces test_cfg instead of adding to its sets.
domain_generalization_test_cfg = dict(
    _delete_=True,
    type='MultiSetTestLoop',
    name='imagenet',
    extra_sets=variant_sets,
    averages=dict(target_average=list(variant_sets)))
