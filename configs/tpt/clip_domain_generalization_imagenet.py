# TPT on zero-shot CLIP (TPT+CLIP), domain generalisation. The hand-written context "a photo of a"
# (TPT's --ctx_init a_photo_of_a: 4 context vectors at token positions 1-4 of "a photo of a
# {class}.", custom_clip.py:76-93) is tuned on every test image of ImageNet and ImageNet-V2 /
# -Sketch / -A / -R. CoOp's learner started from that phrase is TPT's ClipTestTimeTuning; nothing
# is loaded:
#   python tools/test.py configs/tpt/clip_domain_generalization_imagenet.py
_base_ = ['../_base_/recipes/coop_cross_dataset.py', '../_base_/test_time.py']

protocol = 'domain_generalization'
# Nothing is trained: the built context is where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The references run every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
test_cfg = dict(
    _delete_=True,
    type='TestTimeTuningLoop',
    # The context is built, not loaded: the prompts tuned are zero-shot CLIP's (TPT+CLIP),
    # and tools/test.py needs no checkpoint.
    tuned_method='ZeroShotCLIP',
    name='imagenet',
    extra_sets={{_base_.variant_sets}},
    averages={{_base_.domain_generalization_test_cfg.averages}},
    tuning={{_base_.tpt_tuning}})
