# MaPLe base-to-novel protocol: the recipe of the paper / reference configs
# (spec section 2) and its data protocol (spec section 3).
#   model:  ViT-B/16 OpenAI CLIP, 2 context tokens from "a photo of a", depth 9
#   data:   16 shots per class, train on the base half of the classes; one run
#           tests the last-epoch weights on base and novel classes and reports
#           Base / Novel / HM (test_cfg below)
#   optim:  SGD lr 0.0035, momentum 0.9, weight decay 5e-4, batch 4, 5 epochs
# A dataset config only names its dataset type and folder, e.g.
#   dataset = dict(type='CoOpDTD', data_root='data/dtd')
#   train_dataloader = dict(dataset=dataset)
#   test_dataloader = dict(dataset=dataset)
# The seed (default 1; the protocol uses 1, 2, 3) is one flag: tools/train.py --seed S.
_base_ = ['./maple_runtime.py', './maple_vit_b16.py']

num_shots = 16
seed = 1  # of the few-shot draw; tools/train.py --seed sets it with randomness.seed
train_batch_size = 4
test_batch_size = 100

train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=4,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(split='train', subsample='base', num_shots=num_shots, seed=seed,
                 pipeline={{_base_.train_pipeline}}),
)
test_dataloader = dict(
    batch_size=test_batch_size,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test', subsample='base', num_shots=num_shots, seed=seed,
                 pipeline={{_base_.test_pipeline}}),
)
# One run ends with Base, Novel and HM: the same weights tested on the base
# classes and on the novel classes (with the novel class names).
test_cfg = dict(type='MultiSetTestLoop', name='base',
                extra_sets=dict(novel=dict(subsample='novel')))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.0035, momentum=0.9, weight_decay=5e-4, nesterov=False))
max_epochs = 5
# The reference schedule, stepped once per epoch: epoch 1 at lr 1e-5, then
# cosine restarted after it over T_max = max_epochs (never reaching 0):
# [1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3].
param_scheduler = dict(type='ConstantWarmupCosineLR', T_max=max_epochs, warmup_value=1e-5,
                       warmup_steps=1, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs + 1)
# The model after the last epoch is evaluated; there is no validation-based selection.
val_cfg = None
val_dataloader = None
val_evaluator = None
