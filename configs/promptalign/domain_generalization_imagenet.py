# PromptAlign, domain generalisation. The prompts of a MaPLe cross-dataset run
# (configs/maple/cross_dataset_imagenet.py: 2 context tokens, depth 3) are tuned on every test
# image of ImageNet and ImageNet-V2 / -Sketch / -A / -R with TPT's entropy plus the alignment of
# the vision tokens' statistics to ImageNet's (../_base_/test_time.py). PromptAlign labels
# ImageNet-V2 in ImageFolder's "0", "1", "10", ... folder order while its class names are in
# numeric order (spec P9); the dataset here labels by class number. First the statistics of the
# same checkpoint, then the test:
#   python tools/source_statistics.py configs/promptalign/domain_generalization_imagenet.py \
#       CHECKPOINT
#   python tools/test.py configs/promptalign/domain_generalization_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/maple_cross_dataset.py', '../_base_/test_time.py']

protocol = 'domain_generalization'
# Nothing is trained: the loaded prompts are where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The references run every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
test_cfg = dict(
    _delete_=True,
    type='TestTimeTuningLoop',
    name='imagenet',
    extra_sets={{_base_.variant_sets}},
    averages={{_base_.domain_generalization_test_cfg.averages}},
    tuning={{_base_.promptalign_imagenet_tuning}})
