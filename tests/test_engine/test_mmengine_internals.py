"""The private mmengine code maple_mm overrides or calls is still there, as maple_mm uses it.

mmengine has no stable API for these: a release (or a fork) that renames or reshapes
one must fail here, naming what changed and the maple_mm code that depends on it,
rather than deep inside a run. setup.py bounds mmengine to the versions this passes on.
"""
import inspect

import mmengine
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.optim.scheduler import param_scheduler
from mmengine.runner import Runner, TestLoop

#: (owner, method, its parameters, the maple_mm code that overrides or calls it)
METHODS = [
    (Runner, 'setup_env', ['env_cfg'], 'MapleRunner.setup_env'),
    (Runner, 'wrap_model', ['model_wrapper_cfg', 'model'], 'MapleRunner.wrap_model'),
    (Runner, 'load_checkpoint', ['filename', 'map_location', 'strict',
                                 'revise_keys'], 'MapleRunner.load_checkpoint'),
    (Runner, 'load_or_resume', [], 'MapleRunner.load_or_resume'),
    (Runner, 'call_hook', ['fn_name', 'kwargs'], 'MapleRunner.call_hook'),
    (Runner, 'register_hooks', ['default_hooks', 'custom_hooks'], 'MapleRunner.register_hooks'),
    (CheckpointHook, '_save_checkpoint_with_step', ['runner', 'step', 'meta'],
     'SafeCheckpointHook._save_checkpoint_with_step'),
    (OptimWrapper, '_clip_grad', [], 'MixedPrecisionOptimWrapper.step'),
    (OptimWrapper, 'update_params', ['loss', 'step_kwargs',
                                     'zero_kwargs'], 'UpdateRuleMixin.update_params'),
    (OptimWrapper, 'optim_context', ['model'], 'UpdateRuleMixin.optim_context'),
    (OptimWrapper, 'scale_loss', ['loss'], 'UpdateRuleMixin scales each term with it'),
    (OptimWrapper, 'should_update', [], 'UpdateRuleMixin.update_params'),
    (BaseModel, 'parse_losses', ['losses'], 'PromptedCLIP.parse_losses'),
    (param_scheduler._ParamScheduler, '_get_value', [],
     'ConstantWarmupCosineParamScheduler._get_value'),
    (TestLoop, '__init__', ['runner', 'dataloader', 'evaluator',
                            'fp16'], 'MultiSetTestLoop.__init__'),
    (TestLoop, 'run', [], 'MultiSetTestLoop.run'),
    (TestLoop, 'run_iter', ['idx', 'data_batch'], 'MixedPrecisionTestMixin.run_iter'),
    (HistoryBuffer, '__init__', ['log_history', 'count_history',
                                 'max_length'], 'weights_only_checkpoint_hook.from_plain'),
]

#: (owner, code its source must hold, what maple_mm relies on)
SOURCE = [
    (Runner, 'self._distributed', 'MapleRunner.setup_env reads it'),
    (Runner, 'self._resume', 'MapleRunner.load_or_resume reads and sets it'),
    (Runner, 'self._load_from', 'MapleRunner.load_or_resume reads and sets it'),
    (Runner, 'self._has_loaded', 'MapleRunner.load_or_resume reads it'),
    (CheckpointHook, 'self._save_checkpoint_with_step(runner, step, meta=meta)',
     'SafeCheckpointHook saves through it'),
    (CheckpointHook, 'self.keep_ckpt_ids', 'SafeCheckpointHook._keep keeps it'),
    (CheckpointHook, 'self.filename_tmpl', 'SafeCheckpointHook names files with it'),
    (OptimWrapper, 'self.clip_grad_kwargs', 'MixedPrecisionOptimWrapper.step reads it'),
    (param_scheduler._ParamScheduler, 'self.base_values',
     'ConstantWarmupCosineParamScheduler reads it'),
    (param_scheduler._ParamScheduler, 'self.last_step',
     'ConstantWarmupCosineParamScheduler reads it'),
    # The hooks MultiSetTestLoop.run and MixedPrecisionTestMixin.run_iter call in its place.
    (TestLoop, "call_hook('before_test')", 'MultiSetTestLoop.run calls the same hooks'),
    (TestLoop, "call_hook('before_test_epoch')", 'MultiSetTestLoop.run calls the same hooks'),
    (TestLoop, "call_hook('after_test_epoch', metrics=metrics)",
     'MultiSetTestLoop.run calls the same hooks'),
    (TestLoop, "call_hook('after_test')", 'MultiSetTestLoop.run calls the same hooks'),
    (TestLoop, 'self.runner.model.test_step(data_batch)',
     'MixedPrecisionTestMixin.run_iter runs the same step'),
    (TestLoop, 'self.evaluator.process(data_samples=outputs, data_batch=data_batch)',
     'MixedPrecisionTestMixin.run_iter feeds the evaluator the same way'),
    (HistoryBuffer, 'def data(self)', 'WeightsOnlyCheckpointHook saves its logs and counts'),
    # A method that owns its update (maple_mm.models.update_rule): both training steps hand
    # the model's parsed loss to the wrapper, which counts its update as backward does.
    (OptimWrapper, 'self._inner_count += 1', 'UpdateRuleMixin.update_params counts it too'),
    (BaseModel, 'optim_wrapper.optim_context(self)', 'UpdateRuleMixin.optim_context'),
    (BaseModel, 'self.parse_losses(losses)', 'PromptedCLIP.parse_losses hands the terms'),
    (BaseModel, 'optim_wrapper.update_params(parsed_losses)', 'UpdateRuleMixin.update_params'),
    (MMDistributedDataParallel, 'optim_wrapper.optim_context(self)',
     'UpdateRuleMixin.optim_context enters no_sync'),
    (MMDistributedDataParallel, 'self.module.parse_losses(losses)',
     'PromptedCLIP.parse_losses hands the terms'),
    (MMDistributedDataParallel, 'optim_wrapper.update_params(parsed_loss)',
     'UpdateRuleMixin.update_params'),
    (HistoryBuffer, 'self.max_length', 'WeightsOnlyCheckpointHook saves it'),
]

#: What HistoryBuffer pickles by name (maple_mm.engine.runners.checkpoint_loader allows these).
HISTORY_BUFFER_STATISTICS = {'min', 'max', 'current', 'mean'}


def test_private_mmengine_code_maple_mm_depends_on_is_unchanged():
    changed = []
    for owner, name, params, user in METHODS:
        method = inspect.getattr_static(owner, name, None)
        if method is None:
            changed.append(f'{owner.__name__}.{name} is gone ({user} overrides or calls it)')
            continue
        found = [p for p in inspect.signature(method).parameters if p != 'self']
        if found[:len(params)] != params:
            changed.append(f'{owner.__name__}.{name} takes {found}, not {params} ({user})')
    sources = {}
    for owner, code, reliance in SOURCE:
        text = sources.setdefault(owner, ''.join(inspect.getsource(owner).split()))
        if ''.join(code.split()) not in text:  # whitespace aside
            changed.append(f'{owner.__name__} no longer has `{code}` ({reliance})')
    statistics = set(getattr(HistoryBuffer(), '_statistics_methods', {}))
    if not HISTORY_BUFFER_STATISTICS <= statistics:
        changed.append(f'HistoryBuffer._statistics_methods is {sorted(statistics)}, not '
                       f'{sorted(HISTORY_BUFFER_STATISTICS)} (checkpoint_loader allows these)')
    assert not changed, (
        f'mmengine {mmengine.__version__} changed code maple_mm overrides or calls; update '
        'the maple_mm code named and the mmengine bound in setup.py:\n  ' + '\n  '.join(changed))
