# The frozen CLIP every recipe uses, ViT-B/16 with OpenAI's weights, and how images reach
# it (the INPUT section of the reference's configs/trainers/*.yaml): CLIP's normalisation, 224-pixel
# bicubic transforms, loaders.
# A recipe wires clip_backbone into its model; mmengine's Runner (and mmpretrain's get_model)
# give the model the top-level data_preprocessor, as in mmpretrain's configs.
clip_backbone = dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai')
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    to_rgb=True)

# Images decode as Dassl's read_image: PIL, RGB, the EXIF orientation not applied.
# Training: random crops of 8-100% of the area and flips; testing: the shorter
# side to 224 and a centre crop.
train_pipeline = [
    dict(type='LoadImageWithPIL'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageWithPIL'),
    dict(type='ResizeEdge', scale=224, edge='short', interpolation='bicubic', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# The train batch size is the recipe's. The last incomplete batch is dropped when the set
# holds a full batch; a smaller set trains one partial batch per epoch (Dassl's rule,
# MapleRunner.build_dataloader).
train_dataloader = dict(
    num_workers=4,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline),
)
test_dataloader = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
