# TPT on KgCoOp (TPT+KgCoOp), domain generalisation. The context of a KgCoOp cross-dataset run
# (configs/kgcoop/cross_dataset_imagenet.py) is tuned on every test image of ImageNet and
# ImageNet-V2 / -Sketch / -A / -R, with TPT's recipe as for CoOp (no paper reports this pair):
#   python tools/test.py configs/tpt/kgcoop_domain_generalization_imagenet.py CHECKPOINT
_base_ = ['../_base_/recipes/kgcoop_cross_dataset.py', '../_base_/test_time.py']

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
