# The offline demo's data and CLIP, for any method's base-to-novel recipe: Fashion-MNIST
# (real images that ship offline) and a RANDOMLY INITIALISED ViT-B/32 (seed 0), since no
# pretrained CLIP can be downloaded here; it runs on a 2-core CPU. With real weights
# (internet or a local file) add --cfg-options model.backbone.pretrained=openai.
demo_backbone = dict(model_name='ViT-B-32', pretrained=None, quick_gelu=True)

# The one change to the recipe: Fashion-MNIST images are 28 x 28 pixels, and the
# recipe's RandomResizedCrop down to 8% of the area leaves an ~8 x 8-pixel blob
# of a garment. The demo keeps whole images (aspect-ratio jitter and flips only).
# Measured on 100 test images per class, MaPLe, ViT-B/32 seed 0: base accuracy 22-24%
# with the recipe's crops (init seeds 0, 1, 2), 30% with crops >= 50% of the
# area, 40% with whole images.
demo_train_pipeline = [
    dict(type='LoadImageWithPIL'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(1.0, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

# Fashion-MNIST in CoOp format (tools/dataset_converters/fashion_mnist_to_coop.py).
demo_dataset = dict(
    type='SplitFileDataset',
    data_root='data/fashion_mnist',
    split_file='split_zhou_FashionMNIST.json',
    image_dir='images')
demo_train_dataset = dict(demo_dataset, pipeline=demo_train_pipeline)

# Test-time tuning demos (configs/tpt/demo_*.py, configs/promptalign/demo_*.py): to finish in
# minutes on a CPU they tune on 16 views of each image (the benchmarks: 64) and test the
# validation images the protocol's 16-shot draw keeps, 4 per class (min(K, 4), as Dassl
# draws val): 20 base and 20 novel images; see docs/test-time.md.
demo_test_time_dataset = dict(
    demo_dataset,
    split='val',
    pipeline=[
        dict(type='LoadImageWithPIL'),
        dict(type='TestTimeViews', num_views=15, size=224),
        dict(type='PackInputs')
    ])
# PromptAlign's source statistics of the demo: the 16 shots per base class `make demo`'s
# prompts were trained on (80 images), through those prompts.
demo_source_dataset = dict(demo_dataset, split='train', subsample='base', num_shots=16, seed=1)
