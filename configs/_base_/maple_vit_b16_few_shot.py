# MaPLe few-shot protocol: K = 1, 2, 4, 8 or 16 shots per class, ALL classes,
# tested on the whole test split (metric 'test/accuracy/top1').
#
# The MaPLe reference ships no few-shot config. This schedule is the one the same
# authors published for few-shot learning with their follow-up PromptSRC
# (github.com/muzairkhattak/PromptSRC, configs/trainers/PromptSRC/
# vit_b16_c2_ep50_batch4_4+4ctx_few_shot.yaml, run for every K and dataset by
# scripts/promptsrc/few_shot.sh): it is their base-to-novel recipe with the
# epochs raised (20 -> 50) and nothing else changed, for every K and dataset.
# Applied to MaPLe: MaPLe's base-to-novel recipe (../_base_/maple_vit_b16_base2novel.py,
# spec section 2) with 50 epochs instead of 5. PromptSRC's own lr (0.0025) belongs
# to its 4+4 prompts and is not taken. (CoOp instead varies the epochs with K:
# 50 for 1 shot, 100 for 2-4, 200 for 8-16; ImageNet 50.)
# A config per dataset and K only names the dataset type, folder and K, e.g.
#   dataset = dict(type='CoOpDTD', data_root='data/dtd', num_shots=4)
#   train_dataloader = dict(dataset=dataset)
#   test_dataloader = dict(dataset=dataset)
_base_ = ['./maple_runtime.py', './maple_vit_b16.py']

seed = 1  # of the few-shot draw; tools/train.py --seed sets it with randomness.seed

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(split='train', subsample='all', seed=seed, pipeline={{_base_.train_pipeline}}),
)
test_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test', subsample='all', seed=seed, pipeline={{_base_.test_pipeline}}),
)
# MultiSetTestLoop with one set: it writes test_metrics.json for the results table.
test_cfg = dict(type='MultiSetTestLoop', name='test')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.0035, momentum=0.9, weight_decay=5e-4, nesterov=False))
max_epochs = 50
# Epoch 1 at lr 1e-5, then cosine restarted after it over T_max = max_epochs.
param_scheduler = dict(type='ConstantWarmupCosineLR', T_max=max_epochs, warmup_value=1e-5,
                       warmup_steps=1, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs + 1)
# The model after the last epoch is evaluated; there is no validation-based selection.
val_cfg = None
val_dataloader = None
val_evaluator = None
