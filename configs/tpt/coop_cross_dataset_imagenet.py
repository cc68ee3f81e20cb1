# TPT on CoOp (TPT+CoOp), cross-dataset transfer. The context of a CoOp cross-dataset run
# (configs/coop/cross_dataset_imagenet.py: 4 vectors from "a photo of a") is tuned on every test
# image of ImageNet and the 10 other datasets. TPT's CoOp path (--load) writes the saved context
# into prompt_learner[0] and crashes (spec Q1); starting from the saved context, its intent, is
# what the checkpoint gives here:
#   python tools/test.py configs/tpt/coop_cross_dataset_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/coop_cross_dataset.py', '../_base_/test_time.py']

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
