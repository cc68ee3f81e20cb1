# TPT on zero-shot CLIP with the RN50 image tower (TPT+CLIP of TPT's own README table, which is
# RN50's: scripts/test_tpt.sh -a RN50), domain generalisation. The hand-written context
# "a photo of a" (4 vectors at token positions 1-4 of "a photo of a {class}.") is tuned on every
# test image of ImageNet and ImageNet-V2 / -Sketch / -A / -R; nothing is loaded:
#   python tools/test.py configs/tpt/clip_domain_generalization_rn50_imagenet.py
_base_ = ['../_base_/recipes/coop_cross_dataset_rn50.py', '../_base_/test_time.py']

model = dict(prompt_learner=dict(n_ctx=4, ctx_init='a photo of a'))
protocol = 'domain_generalization'
# Nothing is trained: the built context is where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The reference runs every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
test_cfg = dict(
    _delete_=True,
    type='TestTimeTuningLoop',
    tuned_method='ZeroShotCLIP',
    name='imagenet',
    extra_sets={{_base_.variant_sets}},
    averages={{_base_.domain_generalization_test_cfg.averages}},
    tuning={{_base_.tpt_tuning}})
