# MaPLe cross-dataset transfer: train on ImageNet (ALL 1000 classes, 16 shots),
# then test the same prompts, without any further training, on ImageNet (source)
# and on the 10 other datasets (targets; all classes, test split) in one run.
# Reports '<set>/accuracy/top1' per set and 'target_average' (mean over the 10 targets).
# Recipe (reference cross-dataset config, spec section 2): the base-to-novel one
# with prompt depth 3, lr 0.0026 and 2 epochs; model and transforms:
# ../_base_/maple_vit_b16.py.
# domain_generalization_imagenet.py tests a checkpoint of this config on the
# ImageNet variants (tools/test.py, no retraining).
_base_ = ['../_base_/maple_runtime.py', '../_base_/maple_vit_b16.py']

model = dict(prompt_learner=dict(depth=3))  # the reference's cross-dataset depth

seed = 1  # of the few-shot draw; tools/train.py --seed sets it with randomness.seed

imagenet = dict(type='CoOpImageNet', data_root='data/imagenet', subsample='all',
                num_shots=16, seed=seed)
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(imagenet, split='train', pipeline={{_base_.train_pipeline}}),
)
test_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(imagenet, split='test', pipeline={{_base_.test_pipeline}}),
)

# Each target is a complete dataset config (it has a 'type'); the batch size and
# sampler are those of test_dataloader.
target = dict(split='test', subsample='all', seed=seed, pipeline={{_base_.test_pipeline}})
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
test_cfg = dict(type='MultiSetTestLoop', name='imagenet', extra_sets=target_sets,
                averages=dict(target_average=list(target_sets)))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.0026, momentum=0.9, weight_decay=5e-4, nesterov=False))
max_epochs = 2
# Epoch 1 at lr 1e-5, then cosine restarted after it: [1e-5, 2.6e-3].
param_scheduler = dict(type='ConstantWarmupCosineLR', T_max=max_epochs, warmup_value=1e-5,
                       warmup_steps=1, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs + 1)
# The model after the last epoch is evaluated; there is no validation-based selection.
val_cfg = None
val_dataloader = None
val_evaluator = None
