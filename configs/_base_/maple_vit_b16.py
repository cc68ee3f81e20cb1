# MaPLe on ViT-B/16 OpenAI CLIP as the paper trains it (spec sections 1-2): the
# model, CLIP's input normalisation and the train / test transforms. Every
# protocol recipe (base-to-novel, few-shot, cross-dataset) starts from it.
clip_mean = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
clip_std = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]

model = dict(
    type='MaPLe',
    backbone=dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai'),
    prompt_learner=dict(type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9),
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=clip_mean, std=clip_std,
                           to_rgb=True),
)

# 224 px, bicubic: random crops of 8-100% of the area and flips for training;
# shorter side to 224 and a centre crop for testing.
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
test_evaluator = dict(type='Accuracy', topk=(1, ))
