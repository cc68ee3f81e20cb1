# TPT on CoCoOp (TPT+CoCoOp), domain generalisation. The context a CoCoOp cross-dataset run
# (configs/cocoop/cross_dataset_imagenet.py) generates for each image from its original view, ctx
# + meta_net(feature), is tuned on every test image of ImageNet and ImageNet-V2 / -Sketch / -A /
# -R. TPT feeds the meta-net the unnormalised feature (cocoop.py:175-180, spec Q2) where CoCoOp
# trains and infers on the normalised one, which is used here (tuning.meta_net_input='raw' gives
# the reference's):
#   python tools/test.py configs/tpt/cocoop_domain_generalization_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/cocoop_cross_dataset.py', '../_base_/test_time.py']

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
    tuning={{_base_.tpt_tuning}})
