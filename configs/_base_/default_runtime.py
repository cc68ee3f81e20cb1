# Runtime shared by every experiment: scope, plugin import, runner, hooks, logging, evaluation.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['maple_mm'], allow_failed_imports=False)
# Checks inputs before heavy work, loads checkpoints weights-only with clear errors,
# resumes from the newest complete checkpoint, one training per work dir. Named with its
# scope: mmpretrain's own tools/train.py and tools/test.py look it up in mmengine's root
# registry, which finds a runner of mmpretrain's registry only by its scoped name.
runner_type = 'mmpretrain.MapleRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # mmengine's log lines (done/total, time per iteration, ETA) every 20 iterations or
    # 10 seconds of work, whichever comes first: slow test batches are never silent.
    logger=dict(type='ProgressLoggerHook', interval=20, interval_s=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Keep the latest checkpoint only: it holds all that --resume needs. Each is
    # written under a temporary name and renamed, so a kill never loses the last one.
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
# MapleRunner also registers the hooks every run needs (REQUIRED_HOOKS in
# maple_mm/engine/runners/maple_runner.py: ClassNamesHook, EpochSeedHook,
# WeightsOnlyCheckpointHook, DivergenceHook) unless a config's hooks list them, so
# custom_hooks = [dict(type='EMAHook')] in a config keeps them.
# List one in custom_hooks to give it options (e.g. DivergenceHook's max_abs).

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # Without CUDA, MapleRunner switches this to gloo (CPU processes).
    dist_cfg=dict(backend='nccl'),
)
# Each recipe sets base_batch_size, the batch its lr is for (its training batch: the
# references train on one GPU); tools/train.py --auto-scale-lr multiplies the lr by
# (processes x batch per process) / base_batch_size (docs/distributed.md).
auto_scale_lr = dict(enable=False)
# Precision per device type: each recipe sets its CUDA one (the reference's PREC: fp16
# mixed precision, i.e. fp16 autocast, dynamic loss scaling and fp32 prompts; VPT fp32);
# MapleRunner trains and tests in it (docs/benchmarks.md#precision); --precision forces one.
precision = dict(cuda='fp32', cpu='fp32')
# MapleRunner gives the visualizer these backends (unless visualizer names its own), so a
# config adds TensorBoard with
#   vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1, deterministic=False)

# Every protocol reports top-1 accuracy of the model after the last epoch: no
# validation, no selection on it. (val_dataloader, val_evaluator and val_cfg are left
# unset, not None, so a config adds validation by setting them, without _delete_.)
test_evaluator = dict(type='Accuracy', topk=(1, ))
