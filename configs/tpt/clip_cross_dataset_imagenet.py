# TPT on zero-shot CLIP (TPT+CLIP), cross-dataset transfer. The hand-written context "a photo of
# a" (TPT's --ctx_init a_photo_of_a: 4 context vectors at token positions 1-4 of "a photo of a
# {class}.", custom_clip.py:76-93) is tuned on every test image of ImageNet and the 10 other
# datasets. CoOp's learner started from that phrase is TPT's ClipTestTimeTuning; nothing is
# loaded:
#   python tools/test.py configs/tpt/clip_cross_dataset_imagenet.py
_base_ = ['../_base_/recipes/coop_cross_dataset.py', '../_base_/test_time.py']

# Nothing is trained: the built context is where every image's tuning starts.
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
    # The context is built, not loaded: the prompts tuned are zero-shot CLIP's (TPT+CLIP),
    # and tools/test.py needs no checkpoint.
    tuned_method='ZeroShotCLIP',
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
