# MaPLe's base-to-novel recipe (paper / reference configs, spec section 2):
# ViT-B/16 OpenAI CLIP, 2 context tokens, prompt depth 9, 16 shots, batch 4,
# SGD lr 0.0035, 5 epochs: epoch 1 constant at 1e-5, then cosine from 0.0035.
# A protocol config adds the data (train on base classes, test base + novel).
_base_ = ['./maple_runtime.py']

clip_mean = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
clip_std = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]

model = dict(
    type='MaPLe',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai'),
    prompt_learner=dict(type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9),
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=clip_mean, std=clip_std,
                           to_rgb=True),
)

num_shots = 16
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0),
         interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', interpolation='bicubic',
         backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_batch_size = 4
test_batch_size = 100

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
test_evaluator = dict(type='Accuracy', topk=(1, ))
