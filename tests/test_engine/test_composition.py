"""maple_mm next to mmpretrain's own pieces: evaluators, EMAHook, datasets, backbones, scalars."""
import itertools
import json
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import RUNNERS

from maple_mm.engine.runners.maple_runner import REQUIRED_HOOKS
from maple_mm.errors import ConfigError
from ..conftest import write_split_dataset
from ..test_tools.test_train_test_e2e import tiny_config

pytestmark = pytest.mark.long_running(seconds=26)

_ids = itertools.count()


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('compose')
    return tmp, tiny_config(tmp, write_split_dataset(tmp / 'toy'), epochs=2)


def runner_for(config: Path, work_dir: Path, **changes):
    """A runner of ``config`` whose top-level entries in ``changes`` are replaced."""
    cfg = Config.fromfile(config)
    for key, value in changes.items():
        cfg[key] = value
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'compose_{next(_ids)}'
    return RUNNERS.build(cfg)


def test_any_evaluator_list_per_test_set(base, tmp_path):
    tmp, config = base
    out = tmp_path / 'predictions.pkl'
    runner = runner_for(
        config,
        tmp_path,
        test_evaluator=[
            dict(type='Accuracy', topk=(1, )),
            dict(type='ConfusionMatrix'),
            dict(type='SingleLabelMetric', items=('precision', 'recall'), average=None),
            dict(type='DumpResults', out_file_path=str(out))
        ],
        # TensorBoard as docs/composition.md says: add its backend to vis_backends.
        vis_backends=[dict(type='LocalVisBackend'),
                      dict(type='TensorboardVisBackend')])
    runner.train()
    metrics = runner.test()
    for name in ('base', 'novel'):
        matrix = metrics[f'{name}/confusion_matrix/result']
        assert matrix.shape == (3, 3) and int(matrix.sum()) == 15  # 5 test images x 3 classes
        assert len(metrics[f'{name}/single-label/precision_classwise']) == 3
        dumped = pickle.loads((tmp_path / f'predictions_{name}.pkl').read_bytes())
        assert len(dumped) == 15  # every set's predictions, not only the last set's
    assert metrics['HM'] > 0
    record = json.loads(next(tmp_path.glob('*/test_metrics.json')).read_text())
    assert record['complete'] and record['classes']['novel'] == ['yellow', 'cyan', 'magenta']
    assert record['arrays']['novel/confusion_matrix/result'] == \
        metrics['novel/confusion_matrix/result'].tolist()
    # tools/test.py --out dumps every set's predictions too.
    from ..test_apis.test_inference import run_tool_in_process
    run_tool_in_process('test', config, tmp_path / 'epoch_2.pth', '--work-dir', tmp_path / 'retest',
                        '--out', tmp_path / 'retest.pkl')
    for name in ('base', 'novel'):
        assert len(pickle.loads((tmp_path / f'retest_{name}.pkl').read_bytes())) == 15
    # Each set's confusion matrix can be plotted from the run.
    run_tool_in_process('plot_confusion_matrix', tmp_path, '--out-dir', tmp_path / 'plots')
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == [
        'confusion_matrix_base.png', 'confusion_matrix_novel.png'
    ]
    # Base / Novel / HM reach the visualizer's scalars (TensorBoard with TensorboardVisBackend).
    scalars = [
        json.loads(line)
        for line in next(tmp_path.glob('*/vis_data/scalars.json')).read_text().splitlines()
    ]
    assert {'test/base/accuracy/top1', 'test/novel/accuracy/top1', 'test/HM'} <= \
        set().union(*scalars)
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    tags = {
        value.tag
        for events in tmp_path.glob('*/vis_data/events.out.tfevents.*')
        for event in EventFileLoader(str(events)).Load()
        for value in event.summary.value
    }
    assert {'test/base/accuracy/top1', 'test/novel/accuracy/top1', 'test/HM'} <= tags


def user_config(tmp_path: Path, base_config: Path, hooks: str) -> Path:
    """A user's config on a protocol config that sets its own ``custom_hooks``."""
    path = tmp_path / 'user_config.py'
    path.write_text(f'_base_ = [{str(base_config)!r}]\ncustom_hooks = {hooks}\n')
    return path


def hook_types(runner) -> list:
    return [type(hook).__name__ for hook in runner.hooks]


def test_ema_weights_are_tested_after_training_and_saved(base, tmp_path):
    """A user's custom_hooks with EMAHook keep maple_mm's hooks (mmengine replaces lists)."""
    tmp, config = base
    child = user_config(tmp_path, config, "[dict(type='EMAHook', momentum=0.5, "
                        "priority='ABOVE_NORMAL')]")
    runner = runner_for(child, tmp_path / 'train')
    types = hook_types(runner)
    for name in ('EMAHook', *REQUIRED_HOOKS):
        assert types.count(name) == 1, types
    runner.train()
    after_training = runner.test()
    assert set(after_training) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    runner = runner_for(child, tmp_path / 'test', load_from=str(tmp_path / 'train' / 'epoch_2.pth'))
    from_checkpoint = runner.test()
    assert after_training == from_checkpoint  # both test the averaged weights
    plain = runner_for(
        config, tmp_path / 'plain', load_from=str(tmp_path / 'train' / 'epoch_2.pth')).test()
    assert plain == from_checkpoint  # the checkpoint's state_dict holds the averaged weights
    # WeightsOnlyCheckpointHook ran: the file loads with plain weights-only torch.load.
    assert torch.load(tmp_path / 'train' / 'epoch_2.pth', weights_only=True)['meta']


def test_a_user_hook_list_keeps_the_plugin_hooks_once(base, tmp_path):
    """Any other hook too; a required hook the user lists keeps the user's options."""
    tmp, config = base
    child = user_config(
        tmp_path, config, "[dict(type='EmptyCacheHook'), "
        "dict(type='DivergenceHook', max_abs=1e5)]")
    runner = runner_for(child, tmp_path / 'work')
    types = hook_types(runner)
    for name in ('EmptyCacheHook', *REQUIRED_HOOKS):
        assert types.count(name) == 1, types
    assert next(h for h in runner.hooks if type(h).__name__ == 'DivergenceHook').max_abs == 1e5
    runner.train()
    assert set(runner.test()) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}


def test_protocol_configs_take_mmpretrain_datasets(base, tmp_path):
    """CustomDataset has no base/novel split: neutral options are dropped, others are errors."""
    tmp, config = base
    custom = dict(
        type='CustomDataset',
        data_root=str(tmp / 'toy' / 'images'),
        with_label=True,
        subsample='all',
        num_shots=-1,
        seed=3)
    loader = dict(
        Config.fromfile(config).test_dataloader,
        dataset=dict(custom, pipeline=Config.fromfile(config).test_pipeline))
    runner = runner_for(
        config,
        tmp_path / 'custom',
        train_dataloader=loader,
        test_dataloader=loader,
        test_cfg=dict(type='MultiSetTestLoop', name='test'))
    runner.train()
    assert set(runner.test()) == {'test/accuracy/top1'}
    with pytest.raises(
            ConfigError,
            match="CustomDataset cannot split its classes into base "
            "and novel .* subsample='base'"):
        runner_for(
            config,
            tmp_path / 'custom_b2n',
            train_dataloader=dict(loader, dataset=dict(custom, subsample='base')))


def test_linear_probe_of_clip_trains_with_the_same_tools(base, tmp_path):
    """ImageClassifier(OpenCLIPBackbone, LinearClsHead): the classic baseline."""
    tmp, config = base
    from maple_mm.models import TINY_CLIP_CFG
    model = dict(
        type='ImageClassifier',
        backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG, normalize=True),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32),
        data_preprocessor=Config.fromfile(config).data_preprocessor)
    runner = runner_for(config, tmp_path, model=model)
    runner.train()
    metrics = runner.test()
    assert 0 <= metrics['base/accuracy/top1'] <= 100
    head = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['state_dict']
    assert 'head.fc.weight' in head


def test_prompt_learner_builds_from_a_config_naming_its_clip():
    from mmpretrain.registry import MODELS

    from maple_mm.models import TINY_CLIP_CFG
    learner = MODELS.build(
        dict(
            type='MaPLePromptLearner',
            depth=2,
            clip=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
    prompts = learner()
    assert prompts.text_ctx.shape == (2, 32) and prompts.vision_ctx.shape == (2, 48)
    assert len(prompts.deep_vision) == 1


def test_validation_is_added_without_delete(base, tmp_path):
    """The README's recipe for adding validation to a protocol config."""
    tmp, config = base
    child = tmp_path / 'with_val.py'
    child.write_text(f'''
_base_ = [{str(config)!r}]
val_dataloader = dict(batch_size=8, num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(type='SplitFileDataset', data_root={str(tmp / 'toy')!r},
                                   split_file='split_zhou_Toy.json', image_dir='images',
                                   split='val', subsample='base', num_shots=4,
                                   pipeline={{{{_base_.test_pipeline}}}}))
val_evaluator = dict(type='Accuracy', topk=(1, ))
val_cfg = dict()
train_cfg = dict(val_interval=1)
default_hooks = dict(checkpoint=dict(save_best='accuracy/top1'))
''')
    runner = runner_for(child, tmp_path / 'work')
    runner.train()
    assert list((tmp_path / 'work').glob('best_accuracy_top1_epoch_*.pth'))


def test_a_config_on_mmpretrain_runtime_trains_and_tests_its_checkpoint(base, tmp_path):
    """mmpretrain's runtime (its Runner and CheckpointHook) with custom_imports.

    On mmpretrain's ImageNet dataset config too, whose data_preprocessor has no type.
    """
    from ..conftest import run_tool_here
    from ..test_apis.test_inference import run_tool_in_process
    from ..test_tools.test_train_test_e2e import read_test_metrics
    tmp, _ = base
    config = f'''
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32.py',
          'mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['maple_mm'], allow_failed_imports=False)
val_dataloader, val_evaluator = None, None
from maple_mm.models import TINY_CLIP_CFG
model = dict(type='MaPLe', backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
             prompt_learner=dict(depth=3))
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=32),
            dict(type='PackInputs')]
dataset = dict(type='SplitFileDataset', data_root={str(tmp / 'toy')!r}, image_dir='images',
               split_file='split_zhou_Toy.json', num_shots=4, seed=1, pipeline=pipeline)
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler'),
                        dataset=dict(dataset, split='train', subsample='base'))
test_dataloader = dict(batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler'),
                       dataset=dict(dataset, split='test', subsample='base'))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict(type='MultiSetTestLoop', name='base',
                extra_sets=dict(novel=dict(subsample='novel')))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=1)
'''
    plain, hooked = tmp_path / 'mmpretrain_runtime.py', tmp_path / 'with_class_names_hook.py'
    plain.write_text(config)
    hooked.write_text(config + "custom_hooks = [dict(type='ClassNamesHook')]\n")
    # Without ClassNamesHook, the one line to add.
    hint = r"add dict\(type='ClassNamesHook'\) to the config's custom_hooks"
    with pytest.raises(SystemExit, match='error: No class names set.*' + hint):
        run_tool_in_process('train', plain, '--work-dir', tmp_path / 'no_hook')
    # With it: tools/train.py trains and tests, tools/test.py tests the checkpoint of
    # mmengine's own CheckpointHook (HistoryBuffers in it: loaded weights-only).
    run_tool_in_process('train', hooked, '--work-dir', tmp_path / 'train')
    trained = read_test_metrics(tmp_path / 'train')
    assert set(trained) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    checkpoint = tmp_path / 'train' / 'epoch_1.pth'
    assert run_tool_here('test', hooked, checkpoint, '--work-dir', tmp_path / 'test') is None
    assert read_test_metrics(tmp_path / 'test') == trained
    # Testing without the hook never scores the novel set with the checkpoint's base names.
    with pytest.raises(
            SystemExit, match="test set 'novel' .* with the prompts of other "
            'class names.*' + hint):
        run_tool_in_process('test', plain, checkpoint, '--work-dir', tmp_path / 'retest')
