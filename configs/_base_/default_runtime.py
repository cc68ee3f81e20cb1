# Runtime shared by every experiment: scope, plugin import, runner, hooks, logging, evaluation.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['maple_mm'], allow_failed_imports=False)
# Checks inputs before heavy work, loads checkpoints weights-only with clear errors,
# resumes from the newest complete checkpoint, one training per work dir.
runner_type = 'MapleRunner'

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
custom_hooks = [
    dict(type='ClassNamesHook'),  # prompts follow each dataset's class names
    dict(type='EpochSeedHook'),  # resumed runs repeat uninterrupted ones
    dict(type='WeightsOnlyCheckpointHook'),  # checkpoints load weights-only
    dict(type='DivergenceHook'),  # NaN / Inf stops the run before anything is saved
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # Without CUDA, MapleRunner switches this to gloo (CPU processes).
    dist_cfg=dict(backend='nccl'),
)
# The recipes' lr is for a total batch of 4 (1 GPU x 4). tools/train.py
# --auto-scale-lr multiplies it by (GPUs x batch per GPU) / 4; see docs/distributed.md.
auto_scale_lr = dict(base_batch_size=4, enable=False)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1, deterministic=False)

# Every protocol reports top-1 accuracy of the model after the last epoch: no
# validation, no selection on it. (val_dataloader, val_evaluator and val_cfg are left
# unset, not None, so a config adds validation by setting them, without _delete_.)
test_evaluator = dict(type='Accuracy', topk=(1, ))
