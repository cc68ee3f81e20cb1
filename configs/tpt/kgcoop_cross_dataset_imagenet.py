# TPT on KgCoOp (TPT+KgCoOp), cross-dataset transfer. The context of a KgCoOp cross-dataset run
# (configs/kgcoop/cross_dataset_imagenet.py) is tuned on every test image of ImageNet and the 10
# other datasets, with TPT's recipe as for CoOp (no paper reports this pair):
#   python tools/test.py configs/tpt/kgcoop_cross_dataset_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/kgcoop_cross_dataset.py', '../_base_/test_time.py']

# Nothing is trained: the loaded prompts are where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The references run every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
# TPT mixes the views of the 10 fine-grained targets with AugMix (tc.py:171-172);
# ImageNet's views are crops and flips only.
tpt_augmix_set = dict(pipeline={{_base_.tpt_augmix_pipeline}})
test_cfg = dict(
    type='TestTimeTuningLoop',
    extra_sets=dict(
        caltech101=tpt_augmix_set,
        oxford_pets=tpt_augmix_set,
        stanford_cars=tpt_augmix_set,
        oxford_flowers=tpt_augmix_set,
        food101=tpt_augmix_set,
        fgvc_aircraft=tpt_augmix_set,
        sun397=tpt_augmix_set,
        dtd=tpt_augmix_set,
        eurosat=tpt_augmix_set,
        ucf101=tpt_augmix_set),
    tuning={{_base_.tpt_tuning}},
)
