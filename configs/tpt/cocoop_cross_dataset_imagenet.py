# TPT on CoCoOp (TPT+CoCoOp), cross-dataset transfer. The context a CoCoOp cross-dataset run
# (configs/cocoop/cross_dataset_imagenet.py) generates for each image from its original view, ctx
# + meta_net(feature), is tuned on every test image of ImageNet and the 10 other datasets. TPT
# feeds the meta-net the unnormalised feature (cocoop.py:175-180, spec Q2) where CoCoOp trains and
# infers on the normalised one, which is used here (tuning.meta_net_input='raw' gives the
# reference's):
#   python tools/test.py configs/tpt/cocoop_cross_dataset_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/cocoop_cross_dataset.py', '../_base_/test_time.py']

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
