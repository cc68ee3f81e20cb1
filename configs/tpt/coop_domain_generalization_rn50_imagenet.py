# TPT on CoOp with the RN50 image tower (TPT+CoOp of TPT's own README table), domain
# generalisation. TPT starts from CoOp's released 4-token RN50 ImageNet prompts (--load, n_ctx 4:
# tc.py:113-119), i.e. a run of configs/coop/domain_generalization_rn50_nctx4_imagenet.py, whose
# context is tuned on every test image of ImageNet and ImageNet-V2 / -Sketch / -A / -R:
#   python tools/test.py configs/tpt/coop_domain_generalization_rn50_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/coop_cross_dataset_rn50.py', '../_base_/test_time.py']

model = dict(prompt_learner=dict(n_ctx=4))
protocol = 'domain_generalization'
# Nothing is trained: the loaded prompts are where every image's tuning starts.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
# The reference runs every forward under fp16 autocast, with a GradScaler(init_scale=1000)
# whose scale carries across images, on CUDA (tc.py:62,149); CPUs run fp32.
precision = dict(cuda='fp16', cpu='fp32')
test_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.tpt_pipeline}}))
test_cfg = dict(
    _delete_=True,
    type='TestTimeTuningLoop',
    name='imagenet',
    extra_sets={{_base_.variant_sets}},
    averages={{_base_.domain_generalization_test_cfg.averages}},
    tuning={{_base_.tpt_tuning}})
