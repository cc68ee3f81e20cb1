"""The private code of other libraries that maple_mm overrides, calls or reads is still there.

mmengine (and mmpretrain, open_clip, torch) has no stable API for these: a release (or
a fork) that renames or reshapes one must fail here, naming what changed and the
maple_mm code that depends on it, rather than deep inside a run. setup.py bounds
mmengine to the versions this passes on.

Every private name (a leading underscore) of another library that maple_mm's code
touches is listed below: methods it overrides or calls (checked by signature),
attributes it reads or sets (checked on real instances where they are set in
``__init__``), and the few orderings of mmengine code it builds on (checked in the
source). :func:`test_the_lists_cover_every_private_name_the_package_touches` greps the
package so that a new use cannot be added without listing it here. Behaviour maple_mm
builds on (mmengine's test-loss averaging, its hook calls) is tested by running it:
``tests/test_engine/test_multi_set_test_loop.py``.
"""
import importlib
import inspect
import pkgutil
import re

import mmengine
import pytest
import torch
from mmengine.dataset import BaseDataset
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.optim.scheduler import param_scheduler
from mmengine.runner import Runner, TestLoop
from mmengine.runner.base_loop import BaseLoop
from mmengine.runner.checkpoint import CheckpointLoader
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.apis import model as mmpretrain_model_api
from open_clip.transformer import VisionTransformer

from ..conftest import REPO_ROOT

#: (owner, method, its parameters, the maple_mm code that overrides or calls it)
METHODS = [
    (Runner, 'setup_env', ['env_cfg'], 'MapleRunner.setup_env'),
    (Runner, 'wrap_model', ['model_wrapper_cfg', 'model'], 'MapleRunner.wrap_model'),
    (Runner, 'load_checkpoint', ['filename', 'map_location', 'strict',
                                 'revise_keys'], 'MapleRunner.load_checkpoint'),
    (Runner, 'load_or_resume', [], 'MapleRunner.load_or_resume'),
    (Runner, 'call_hook', ['fn_name', 'kwargs'], 'MapleRunner.call_hook, RunnerView.call_hook'),
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
    (TestLoop, 'run', [], 'MultiSetTestLoop.run_set (super().run() per set)'),
    (TestLoop, 'run_iter', ['idx', 'data_batch'], 'MultiSetTestLoop.run_iter'),
    (HistoryBuffer, '__init__', ['log_history', 'count_history',
                                 'max_length'], 'weights_only_checkpoint_hook.from_plain'),
    (CheckpointLoader, '_get_checkpoint_loader', ['path'],
     'tests: safe_checkpoint_loading replaces the loaders it returns'),
    (ImageClassificationInferencer, '_init_pipeline', ['cfg'],
     'PromptedCLIPInferencer._init_pipeline'),
    (VisionTransformer, '_embeds', ['x'], 'towers.encode_image'),
    (VisionTransformer, '_pool', ['x'], 'towers.encode_image'),
    (torch.nn.Module, '_apply', ['fn'], 'PromptLearner._apply'),
]

#: (class, attribute, the maple_mm code that reads or sets it): the attributes an instance
#: built here must have (see ``instances``).
INSTANCE_ATTRIBUTES = [
    (Runner, '_distributed', 'MapleRunner.setup_env reads it'),
    (Runner, '_resume', 'MapleRunner.load_or_resume reads and sets it'),
    (Runner, '_load_from', 'MapleRunner.load_or_resume reads and sets it'),
    (Runner, '_has_loaded', 'MapleRunner.load_or_resume reads it'),
    (Runner, '_timestamp', 'MapleRunner.setup_env names the log folder through it'),
    (Runner, '_work_dir', 'MapleRunner.setup_env creates the log folder in it'),
    (Runner, 'launcher', 'MapleRunner.setup_env starts a CPU process group for it'),
    (HistoryBuffer, '_log_history', 'checkpoint_loader._buffer_problem checks it'),
    (HistoryBuffer, '_count_history', 'checkpoint_loader._buffer_problem checks it'),
    (HistoryBuffer, '_statistics_methods', 'checkpoint_loader allows what it names'),
    (HistoryBuffer, 'max_length', 'WeightsOnlyCheckpointHook saves it'),
    (BaseDataset, '_metainfo', 'CoOpDataset sets classes and templates in it'),
    (TestLoop, 'test_loss', 'mmengine averages test losses in it (kept per set)'),
]

#: (owner, attribute, what maple_mm relies on): class-level names.
CLASS_ATTRIBUTES = [
    (CheckpointLoader, '_schemes', 'safe_checkpoint_loading swaps the loaders in it'),
    (torch.nn.MultiheadAttention, '_qkv_same_embed_dim',
     'fast.block_rows.supports_row_blocks reads it (set in __init__)'),
]

#: (owner, code its source must hold, what maple_mm relies on)
SOURCE = [
    (Runner, 'self._timestamp = time.strftime', 'MapleRunner.setup_env renames it after'),
    (CheckpointHook, 'self._save_checkpoint_with_step(runner, step, meta=meta)',
     'SafeCheckpointHook saves through it'),
    (CheckpointHook, 'self.keep_ckpt_ids', 'SafeCheckpointHook._keep keeps it'),
    (CheckpointHook, 'self.filename_tmpl', 'SafeCheckpointHook names files with it'),
    (OptimWrapper, 'self.clip_grad_kwargs', 'MixedPrecisionOptimWrapper.step reads it'),
    (param_scheduler._ParamScheduler, 'self.base_values',
     'ConstantWarmupCosineParamScheduler reads it'),
    (param_scheduler._ParamScheduler, 'self.last_step',
     'ConstantWarmupCosineParamScheduler reads it'),
    # The loops reach the runner through the property MultiSetTestLoop and
    # MixedPrecisionTestMixin override (RunnerView: fewer hooks, the model under autocast).
    (TestLoop, "self.runner.call_hook('before_test')", 'MultiSetTestLoop calls it once'),
    (TestLoop, "self.runner.call_hook('after_test')", 'MultiSetTestLoop calls it once'),
    (TestLoop, 'self.runner.model.test_step(data_batch)',
     'MixedPrecisionTestMixin autocasts it (ModelView.test_step)'),
    (TestLoop, 'self.evaluator.evaluate(len(self.dataloader.dataset))',
     'FiniteScores.evaluate names the set metrics'),
    (BaseDataset, 'return copy.deepcopy(self._metainfo)', 'metainfo reads what CoOpDataset sets'),
    (mmpretrain_model_api, 'model._dataset_meta = dataset_meta',
     'PromptedCLIP._dataset_meta sets the class names'),
    (mmpretrain_model_api, 'model._metainfo = metainfo', 'PromptedCLIP._metainfo keeps it'),
    (mmpretrain_model_api, "getattr(model, '_metainfo', None)",
     'PromptedCLIP._metainfo: inference_model reads it'),
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

#: Private names the package uses that are its own or torch's stable-by-convention ones.
OWN_OR_PUBLIC = {
    '_version',  # torch.Tensor._version: public in all but name (autograd's version counter)
    '_reconstructor',  # copyreg._reconstructor: a name the safe unpickler allows, not called
}


class _Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return inputs


@pytest.fixture(scope='module')
def instances(tmp_path_factory):
    """One real instance of each class whose instance attributes maple_mm touches."""
    # In mmpretrain's scope, as the tests' (conftest.py): a runner's scope is the current one.
    runner = Runner(
        model=_Model(),
        work_dir=str(tmp_path_factory.mktemp('internals')),
        default_scope='mmpretrain')
    loop = TestLoop.__new__(TestLoop)
    BaseLoop.__init__(loop, runner, dataloader=[])
    loop.evaluator = None
    loop.test_loss = {}  # what TestLoop.__init__ sets; its source is checked below
    return {
        Runner: runner,
        HistoryBuffer: HistoryBuffer(),
        BaseDataset: BaseDataset(lazy_init=True),
        TestLoop: loop,
    }


def _compact(text: str) -> str:
    return ''.join(text.split())


def test_private_methods_maple_mm_overrides_or_calls_are_unchanged():
    changed = []
    for owner, name, params, user in METHODS:
        method = inspect.getattr_static(owner, name, None)
        method = getattr(method, '__func__', method)  # a classmethod's function
        if method is None:
            changed.append(f'{owner.__name__}.{name} is gone ({user} overrides or calls it)')
            continue
        found = [p for p in inspect.signature(method).parameters if p not in ('self', 'cls')]
        if found[:len(params)] != params:
            changed.append(f'{owner.__name__}.{name} takes {found}, not {params} ({user})')
    assert not changed, _message(changed)


def test_private_attributes_maple_mm_reads_or_sets_are_unchanged(instances):
    changed = []
    for owner, name, user in INSTANCE_ATTRIBUTES:
        if not hasattr(instances[owner], name):
            changed.append(f'a {owner.__name__} has no {name} ({user})')
    for owner, name, user in CLASS_ATTRIBUTES:
        if not hasattr(owner, name) and name not in _compact(inspect.getsource(owner)):
            changed.append(f'{owner.__name__} has no {name} ({user})')
    if not isinstance(inspect.getattr_static(BaseLoop, 'runner'), property):
        changed.append('BaseLoop.runner is no longer a property (MultiSetTestLoop overrides it)')
    if "self.test_loss" not in _compact(inspect.getsource(TestLoop.__init__)):
        changed.append('TestLoop.__init__ no longer sets self.test_loss')
    statistics = set(getattr(HistoryBuffer(), '_statistics_methods', {}))
    if not HISTORY_BUFFER_STATISTICS <= statistics:
        changed.append(f'HistoryBuffer._statistics_methods is {sorted(statistics)}, not '
                       f'{sorted(HISTORY_BUFFER_STATISTICS)} (checkpoint_loader allows these)')
    assert not changed, _message(changed)


def test_private_code_maple_mm_builds_on_is_unchanged():
    changed = []
    sources = {}
    for owner, code, reliance in SOURCE:
        text = sources.setdefault(owner, _compact(inspect.getsource(owner)))
        if _compact(code) not in text:  # whitespace aside
            changed.append(f'{getattr(owner, "__name__", owner)} no longer has `{code}` '
                           f'({reliance})')
    init = _compact(inspect.getsource(Runner.__init__))
    setup, log_dir = init.find('self.setup_env(env_cfg)'), init.find('self._log_dir=')
    if not 0 <= setup < log_dir:
        changed.append('Runner.__init__ no longer calls setup_env before naming the log folder '
                       '(MapleRunner.setup_env claims the folder name there)')
    assert not changed, _message(changed)


def _message(changed) -> str:
    return (f'mmengine {mmengine.__version__} (or mmpretrain / open_clip / torch) changed code '
            'maple_mm overrides or calls; update the maple_mm code named and the bound in '
            'setup.py:\n  ' + '\n  '.join(changed))


def _package_classes():
    import maple_mm
    for info in pkgutil.walk_packages(maple_mm.__path__, 'maple_mm.'):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == info.name:
                yield cls


def _source(obj) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ''


def test_the_lists_cover_every_private_name_the_package_touches():
    """Every private name of another library the package touches is listed above.

    Found: ``self._x`` in a maple_mm class where a base class of another library
    defines ``_x`` or sets ``self._x``; ``obj._x`` / ``super()._x`` and
    ``getattr(obj, '_x')`` on anything, unless the package itself defines or sets ``_x``.
    """
    listed = {name for _, name, *_ in METHODS + INSTANCE_ATTRIBUTES + CLASS_ATTRIBUTES}
    listed |= {'_dataset_meta', '_metainfo'} | OWN_OR_PUBLIC  # SOURCE: mmpretrain's get_model
    sources = {p: p.read_text() for p in sorted((REPO_ROOT / 'maple_mm').rglob('*.py'))}
    own = set()
    for text in sources.values():
        own |= set(re.findall(r'def (_[A-Za-z]\w*)\(', text))
        own |= set(re.findall(r'^\s*(_[A-Za-z]\w*)\s*[:=]', text, re.M))
        own |= set(re.findall(r'self\.(_[A-Za-z]\w*)\s*(?::[^=]*)?=[^=]', text))
        own |= set(re.findall(r"__dict__\[?'(_[A-Za-z]\w*)'", text))
        own |= set(re.findall(r'[(,]\s*(_[A-Za-z]\w*)=', text))  # __dict__.update(_x=...)
    found = {}
    for path, text in sources.items():
        where = str(path.relative_to(REPO_ROOT))
        for owner, name in re.findall(r'(\w+|\))\.(_[A-Za-z]\w*)', text):
            if owner not in ('self', 'cls') and not name.startswith('__') and name not in own:
                found.setdefault(name, where)
        for name in re.findall(r"(?:getattr|hasattr|\.get)\(\s*\w*,?\s*'(_[A-Za-z]\w*)'", text):
            if name not in own:
                found.setdefault(name, where)
    for cls in _package_classes():
        foreign = [b for b in cls.__mro__[1:] if not b.__module__.startswith('maple_mm')]
        for name in set(re.findall(r'(?:self|cls)\.(_[A-Za-z]\w*)', _source(cls))):
            for base in foreign:
                if name in vars(base) or re.search(rf'self\.{name}\b', _source(base)):
                    found.setdefault(name, f'{cls.__name__} (from {base.__name__})')
    missing = {name: where for name, where in found.items() if name not in listed}
    assert not missing, f'private names of other libraries not listed in this file: {missing}'
