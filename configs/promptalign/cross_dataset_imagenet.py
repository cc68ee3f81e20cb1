# PromptAlign, cross-dataset transfer. The prompts of a MaPLe cross-dataset run
# (configs/maple/cross_dataset_imagenet.py: 2 context tokens, depth 3) are tuned on every test
# image of ImageNet and the 10 other datasets with TPT's entropy plus the alignment of the vision
# tokens' statistics to ImageNet's (../_base_/test_time.py). PromptAlign labels ImageNet-V2 in
# ImageFolder's "0", "1", "10", ... folder order while its class names are in numeric order (spec
# P9); the dataset here labels by class number. First the statistics of the same checkpoint, then
# the test:
#   python tools/source_statistics.py configs/promptalign/cross_dataset_imagenet.py CHECKPOINT
#   python tools/test.py configs/promptalign/cross_dataset_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/maple_cross_dataset.py', '../_base_/test_time.py']

# Nothing is trained: the loaded prompts are where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The references run every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
# PromptAlign's DTD and FGVCAircraft dataset configs point at PUG data instead (spec P7);
# the real datasets are tested here.
test_cfg = dict(
    type='TestTimeTuningLoop',
    tuning={{_base_.promptalign_fine_grained_tuning}},
    set_tuning=dict(imagenet={{_base_.promptalign_imagenet_tuning}}),
)
