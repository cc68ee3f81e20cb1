# Transfer from ImageNet (docs/benchmarks.md; reference scripts/maple/xd_*.sh): train on ImageNet,
# ALL 1000 classes, 16 shots;
# then test the same prompts, without further training, in one run:
# - cross-dataset (test_cfg): ImageNet (source) and the 10 other datasets (targets, all
#   classes of their test splits);
# - domain generalisation (domain_generalization_test_cfg, which the
#   domain_generalization_imagenet.py configs select): ImageNet and ImageNetV2 / ImageNet-Sketch /
#   -A / -R (A and R over their own 200 classes). Both train alike, so a domain
#   generalisation run can test a cross-dataset checkpoint.
# Each reports '<set>/accuracy/top1' and 'target_average', the mean over the targets.
# Every test set takes the main test set's transforms (MultiSetTestLoop). Each dataset reads
# data/<folder>, its folder in maple_mm/datasets/catalog.py, unless it sets data_root.
protocol = 'cross_dataset'
train_set = dict(type='CoOpImageNet', split='train', subsample='all', num_shots=16, seed=1)
test_set = dict(train_set, split='test')

target = dict(split='test', subsample='all', seed=1)
target_sets = dict(
    caltech101=dict(target, type='CoOpCaltech101'),
    oxford_pets=dict(target, type='CoOpOxfordPets'),
    stanford_cars=dict(target, type='CoOpStanfordCars'),
    oxford_flowers=dict(target, type='CoOpFlowers102'),
    food101=dict(target, type='CoOpFood101'),
    fgvc_aircraft=dict(target, type='CoOpFGVCAircraft'),
    sun397=dict(target, type='CoOpSUN397'),
    dtd=dict(target, type='CoOpDTD'),
    eurosat=dict(target, type='CoOpEuroSAT'),
    ucf101=dict(target, type='CoOpUCF101'),
)
test_cfg = dict(
    type='MultiSetTestLoop',
    name='imagenet',
    extra_sets=target_sets,
    averages=dict(target_average=list(target_sets)))

# (Not `variant`: a top-level `variant` names the run's experiment, run_record.py.)
imagenet_variant = dict(split='test', seed=1)
variant_sets = dict(
    imagenetv2=dict(imagenet_variant, type='CoOpImageNetV2'),
    imagenet_sketch=dict(imagenet_variant, type='CoOpImageNetSketch'),
    imagenet_a=dict(imagenet_variant, type='CoOpImageNetA'),
    imagenet_r=dict(imagenet_variant, type='CoOpImageNetR'),
)
# `_delete_`: it replaces test_cfg instead of adding to its sets.
domain_generalization_test_cfg = dict(
    _delete_=True,
    type='MultiSetTestLoop',
    name='imagenet',
    extra_sets=variant_sets,
    averages=dict(target_average=list(variant_sets)))
