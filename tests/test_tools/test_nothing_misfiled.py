"""Issue 25: every result, checkpoint and class list stays bound to what produced it.

Tiny runs of the shipped base-to-novel DTD configs (tiny CLIP, miniature DTD),
trained and tested through the tools as a user runs them (in this process,
through ``run_cli``, to spare the imports): checkpoints of another method,
changed data, non-finite training state, class lists that break the output,
and the words of the errors.
"""
import itertools
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from maple_mm.apis import load_model
from maple_mm.errors import MapleUserError
from maple_mm.evaluation import collect_runs
from maple_mm.run_layout import METRICS_FILE
from ..conftest import REPO_ROOT, load_tool, write_split_file
from ..miniature_datasets import write_miniature
from ..test_configs.tiny_runs import fast_cpu_runs, load, tiny  # noqa: F401

CONFIGS = REPO_ROOT / 'configs'
_names = itertools.count()


def run_tool(tool: str, *argv) -> str:
    """What ``tools/<tool>.py`` ends with, run in this process: its last stderr line as
    run_cli prints it ('' when it succeeds). Each run gets an experiment name of its own
    (mmengine's loggers and message hubs are per experiment name and second)."""
    _cli = load_tool('tools/_cli.py')
    module = load_tool(f'tools/{tool}.py')
    argv = [str(a) for a in argv]
    if tool in ('train', 'test'):
        argv += ['--cfg-options', f'experiment_name=misfiled_{next(_names)}']
    try:
        _cli.run_cli(module.main, argv)
    except SystemExit as exit_info:
        return str(exit_info.code)
    return ''


def tiny_config(folder: Path, method: str, data_root: Path, **learner) -> Path:
    """configs/<method>/base2novel_dtd.py on the tiny CLIP and the miniature DTD, 2 epochs,
    every checkpoint kept, written out for the tools (the folder names the method)."""
    cfg = tiny(load(CONFIGS / method / 'base2novel_dtd.py'), data_root, folder / 'unused', epochs=2)
    cfg.model.prompt_learner.update(learner)
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    for key in ('work_dir', 'experiment_name', 'variant'):
        cfg.pop(key, None)
    path = folder / method / 'base2novel_dtd.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def runs(tmp_path_factory, fast_cpu_runs):  # noqa: F811
    """CoOp and KgCoOp (4 context vectors each), IVLP and PromptSRC (4 + 4 tokens), trained
    2 epochs on the miniature DTD with tools/train.py."""
    tmp = tmp_path_factory.mktemp('misfiled')
    data = tmp / 'data'
    write_miniature(data, 'dtd')
    four_four = dict(n_ctx_text=4, n_ctx_vision=4)
    configs = dict(
        coop=tiny_config(tmp / 'configs', 'coop', data),
        kgcoop=tiny_config(tmp / 'configs', 'kgcoop', data),
        ivlp=tiny_config(tmp / 'configs', 'ivlp', data, **four_four),
        promptsrc=tiny_config(tmp / 'configs', 'promptsrc', data, **four_four))
    work = {}
    for method, config in configs.items():
        work[method] = tmp / 'work' / method
        assert run_tool('train', config, '--work-dir', work[method], '--no-test') == ''
    return dict(tmp=tmp, data=data / 'dtd', configs=configs, work=work)


def checkpoint(runs, method: str, epoch: int = 2) -> Path:
    return runs['work'][method] / f'epoch_{epoch}.pth'


def records(work_dir: Path) -> list:
    return [json.loads(p.read_text())['record'] for p in sorted(work_dir.glob(f'*/{METRICS_FILE}'))]


def saved_copy(source: Path, target: Path, change) -> Path:
    """``source`` loaded weights-only, changed by ``change(checkpoint)``, saved as ``target``."""
    state = torch.load(source, weights_only=True)
    change(state)
    torch.save(state, target)
    return target


# -- 2. another method's checkpoint -------------------------------------------------------
def test_another_methods_checkpoint_stops_every_entry_point_with_one_line(runs, tmp_path):
    kgcoop, coop = checkpoint(runs, 'kgcoop', 1), runs['configs']['coop']
    line = (f'error: Checkpoint {kgcoop} was written by KgCoOp, but the config builds CoOp: its '
            'results would be filed under CoOp. Use a KgCoOp config, or pass '
            '--allow-other-method (allow_other_method=True in Python) to load it anyway; the '
            'run record keeps that.')
    lines = dict(
        test=run_tool('test', coop, kgcoop, '--work-dir', tmp_path / 'test'),
        test_plain_runner=run_tool('test', coop, kgcoop, '--work-dir', tmp_path / 'plain',
                                   '--cfg-options', 'runner_type=Runner'),
        resume=run_tool('train', coop, '--work-dir', tmp_path / 'resume', '--resume', kgcoop,
                        '--no-test'),
        load_from=run_tool('train', coop, '--work-dir', tmp_path / 'load_from', '--no-test',
                           '--cfg-options', f'load_from={kgcoop}'),
        infer=run_tool('infer', coop, kgcoop, next(runs['data'].rglob('*.jpg'))))
    try:
        load_model(str(coop), str(kgcoop))
        lines['load_model'] = ''
    except MapleUserError as err:
        lines['load_model'] = f'error: {err}'
    assert lines == {entry: line for entry in lines}
    assert not list(tmp_path.rglob('*.pth')) and not list(tmp_path.rglob(METRICS_FILE))
    # PromptSRC's 4 + 4 tokens have IVLP's shapes.
    promptsrc = checkpoint(runs, 'promptsrc')
    assert run_tool('test', runs['configs']['ivlp'], promptsrc, '--work-dir',
                    tmp_path / 'ivlp') == line.replace(str(kgcoop), str(promptsrc)).replace(
                        'KgCoOp', 'PromptSRC').replace('CoOp', 'IVLP')


def test_another_method_loads_when_asked_and_the_record_says_so(runs, tmp_path):
    kgcoop = checkpoint(runs, 'kgcoop')
    work = tmp_path / 'allowed'
    assert run_tool('test', runs['configs']['coop'], kgcoop, '--work-dir', work,
                    '--allow-other-method') == ''
    (record, ) = records(work)
    # Filed under the run that wrote the checkpoint, with what loaded it.
    assert (record['method'], record['allow_other_method']) == ('KgCoOp', True)
    assert record['variant'].startswith('kgcoop/base2novel') and record['config'] == \
        'base2novel_dtd'
    assert record['checkpoint']['file'] == str(kgcoop)
    assert record['checkpoint']['loaded_into'] == 'CoOp'
    image = next(runs['data'].rglob('*.jpg'))
    assert run_tool('infer', runs['configs']['coop'], kgcoop, image, '--allow-other-method') == ''
    assert load_model(
        str(runs['configs']['coop']), str(kgcoop),
        allow_other_method=True).class_names == ['banded', 'blotchy']
    # CoOp trained from KgCoOp's prompts: its own test, and later tests of its checkpoint,
    # keep that it started from another method's weights.
    started = tmp_path / 'started_from_kgcoop'
    assert run_tool('train', runs['configs']['coop'], '--work-dir', started, '--cfg-options',
                    f'load_from={kgcoop}', 'train_cfg.max_epochs=1', '--allow-other-method') == ''
    assert run_tool('test', runs['configs']['coop'], started / 'epoch_1.pth', '--work-dir',
                    started) == ''
    assert [(r['method'], r['allow_other_method']) for r in records(started)] == \
        [('CoOp', True), ('CoOp', True)]


def test_a_converted_reference_checkpoint_says_how_its_method_was_found(runs, tmp_path):
    from maple_mm.provenance import converted_writer  # what the converter writes
    written = converted_writer(
        'KgCoOp', dict(n_ctx=4, text_width=32), 'out/model.pth.tar-50', detected=True)
    converted = saved_copy(
        checkpoint(runs, 'kgcoop'), tmp_path / 'converted.pth',
        lambda state: state.update(meta=dict(method='kgcoop', written_by=written)))
    assert run_tool('test', runs['configs']['coop'], converted, '--work-dir', tmp_path / 'w') == (
        f'error: Checkpoint {converted} was written by KgCoOp (converted from model.pth.tar-50; '
        'the converter read the method from its keys: convert it again with --method if the '
        'reference trainer was another), but the config builds CoOp: its results would be '
        'filed under CoOp. Use a KgCoOp config, or pass --allow-other-method '
        '(allow_other_method=True in Python) to load it anyway; the run record keeps that.')
    assert run_tool('test', runs['configs']['kgcoop'], converted, '--work-dir',
                    tmp_path / 'w') == ''
    (record, ) = records(tmp_path / 'w')
    assert record['checkpoint']['converted_from'] == 'model.pth.tar-50'
    assert (record['method'], record['seed']) == ('KgCoOp', 1)  # the config's: none converted


def test_a_checkpoint_carries_its_method_clip_run_classes_and_data(runs):
    written = torch.load(checkpoint(runs, 'coop'), weights_only=True)['meta']['written_by']
    assert written['method'] == 'CoOp'
    assert written['clip'] == dict(
        model_name='custom',
        pretrained=None,
        embed_dim=32,
        text_width=32,
        text_layers=4,
        vision_width=48,
        vision_layers=4)
    assert {k: written['run'][k] for k in ('method', 'dataset', 'shots', 'seed', 'protocol')} == \
        dict(method='CoOp', dataset='dtd', shots=16, seed=1, protocol='base2novel')
    assert written['classes'] == ['banded', 'blotchy']  # the base half of 4 classes
    data = written['data']
    assert (data['dataset'], data['source']) == ('dtd', 'split_zhou_DescribableTextures.json')
    assert {split: fp['items'] for split, fp in data['lists'].items()} == \
        dict(train=8, val=8, test=8)


def test_another_clip_architecture_is_refused(runs, tmp_path):
    line = run_tool('test', runs['configs']['coop'], checkpoint(runs, 'coop'), '--work-dir',
                    tmp_path, '--cfg-options', 'model.backbone.model_cfg.text_cfg.layers=3')
    assert line.startswith(f'error: Checkpoint {checkpoint(runs, "coop")} was learned on a '
                           'custom CLIP (text width 32, vision width 48, embed dim 32; random '
                           'weights), but the config builds a custom CLIP (text width 32, '
                           'vision width 48, embed dim 32; random weights) (other text_layers)')


def test_a_checkpoint_written_before_the_record_loads_with_a_note(runs, tmp_path, capsys):
    old = saved_copy(
        checkpoint(runs, 'kgcoop'), tmp_path / 'old.pth',
        lambda state: state['meta'].pop('written_by'))
    assert run_tool('test', runs['configs']['coop'], old, '--work-dir', tmp_path / 'w') == ''
    assert f'note: checkpoint {old} does not say which method and CLIP wrote it' in \
        capsys.readouterr().out
    (record, ) = records(tmp_path / 'w')
    assert record['method'] == 'CoOp' and record['trained'] is None


# -- 3. the data changed between training and testing ------------------------------------
@pytest.fixture
def data_copy(runs, tmp_path):
    """The miniature DTD copied, and the CoOp config reading it."""
    data = tmp_path / 'dtd'
    shutil.copytree(runs['data'], data)
    config = tmp_path / 'coop' / 'base2novel_dtd.py'
    config.parent.mkdir()
    config.write_text(runs['configs']['coop'].read_text().replace(str(runs['data']), str(data)))
    split = data / 'split_zhou_DescribableTextures.json'
    return dict(config=config, split=split, lists=json.loads(split.read_text()))


def test_a_class_renamed_in_the_split_file_is_an_error_naming_it(runs, data_copy, tmp_path):
    lists = {
        split: [[path, label, 'spotted' if name == 'blotchy' else name]
                for path, label, name in items]
        for split, items in data_copy['lists'].items()
    }
    data_copy['split'].write_text(json.dumps(lists))
    line = run_tool('test', data_copy['config'], checkpoint(runs, 'coop'), '--work-dir', tmp_path)
    assert line == (f"error: Test set 'base' has other class names than checkpoint "
                    f"{checkpoint(runs, 'coop')} was trained on: label 1 was 'blotchy', is now "
                    "'spotted'. The data changed since training, or the config tests another "
                    'dataset: test on the data it was trained on, or train again.')
    assert not list(tmp_path.rglob(METRICS_FILE))


def test_a_changed_test_list_warns_and_the_record_keeps_both(runs, data_copy, tmp_path, capsys):
    lists = dict(data_copy['lists'], test=data_copy['lists']['test'][:-3])  # 3 items removed
    data_copy['split'].write_text(json.dumps(lists))
    assert run_tool('test', data_copy['config'], checkpoint(runs, 'coop'), '--work-dir',
                    tmp_path) == ''
    warnings = [line for line in capsys.readouterr().out.splitlines() if 'is not the one' in line]
    assert len(warnings) == 1 and warnings[0].endswith(
        "Test set 'base': the test list of split_zhou_DescribableTextures.json is not the one "
        f"checkpoint {checkpoint(runs, 'coop')} was trained beside (8 items then, 5 now): these "
        'numbers are not comparable with tests on the earlier list. The run record keeps both '
        'fingerprints.')
    (record, ) = records(tmp_path)
    trained = record['trained']['data']['lists']['test']
    tested = record['tested']['base']['lists']['test']
    assert (trained['items'], tested['items']) == (8, 5)
    assert trained['sha256'] != tested['sha256']
    assert record['trained']['classes'] == ['banded', 'blotchy']


def test_an_empty_class_name_in_a_split_file_is_an_error(tmp_path):
    splits = {
        part: [[f'c{label}/{part}.png', label, name]
               for label, name in enumerate(['red', '', 'blue'])]
        for part in ('train', 'val', 'test')
    }
    root = write_split_file(tmp_path / 'toy', splits)
    split_file = root / 'split_zhou_Toy.json'
    from mmpretrain.registry import DATASETS
    with pytest.raises(MapleUserError) as error:
        DATASETS.build(
            dict(
                type='SplitFileDataset',
                data_root=str(root),
                split_file=split_file.name,
                image_dir='images'))
    assert str(error.value) == (
        f"Split file {split_file}: train[1] has the class name '', which is empty (2 more such "
        'items): every class needs a name of one line, its prompt is built from it; fix the '
        'split file (see docs/datasets.md#use-your-own-dataset).')


# -- 4. every tensor of a checkpoint is checked where it is loaded ------------------------
def test_nan_in_the_gpa_aggregate_stops_resume_naming_checkpoint_and_tensor(runs, tmp_path):

    def poison(state):
        aggregate = state['gaussian_prompt_aggregation']['sum']
        aggregate['prompt_learner.ctx'][0, 0] = float('nan')

    bad = saved_copy(checkpoint(runs, 'promptsrc', 1), tmp_path / 'gpa.pth', poison)
    line = run_tool('train', runs['configs']['promptsrc'], '--work-dir', tmp_path / 'w', '--resume',
                    bad)
    assert line == (f"error: Checkpoint {bad}: gaussian_prompt_aggregation.sum."
                    "prompt_learner.ctx (1 of 128 values) holds NaN or Inf values, so the run "
                    'continuing from it would break: the file is damaged, or was saved after its '
                    'run went wrong. Use an earlier checkpoint of the run, or train from the '
                    'start.')
    assert not list((tmp_path / 'w').rglob('*.pth'))


def _momentum(state):
    (index, moments), = state['optimizer']['state'].items()  # the one trained tensor
    moments['momentum_buffer'] = torch.full((4, ), float('inf'))
    return f'optimizer.state.{index}.momentum_buffer (4 of 4 values)'


def _lr(state):
    state['optimizer']['param_groups'][0]['lr'] = float('nan')
    return 'optimizer.param_groups.0.lr (nan)'


def _logged_lr(state):
    state['message_hub']['log_scalars']['train/lr']['logs'].fill_(float('inf'))
    return "message_hub.log_scalars['train/lr'].logs (2 of 2 values)"


@pytest.mark.parametrize('poison', [_momentum, _lr, _logged_lr])
def test_non_finite_training_state_names_the_checkpoint_not_the_learning_rate(
        runs, tmp_path, poison):
    entry = []
    bad = saved_copy(
        checkpoint(runs, 'coop', 1), tmp_path / 'state.pth', lambda s: entry.append(poison(s)))
    line = run_tool('train', runs['configs']['coop'], '--work-dir', tmp_path / 'w', '--resume', bad,
                    '--no-test')
    assert line.startswith(f'error: Checkpoint {bad}: {entry[0]} holds NaN or Inf values')
    assert 'learning rate' not in line


def test_a_logged_nan_loss_does_not_stop_a_resume(runs, tmp_path):
    """fp16 runs log the overflowing steps their loss scaler skipped."""

    def logged_nan(state):
        state['message_hub']['log_scalars']['train/loss']['logs'][0] = float('nan')

    source = checkpoint(runs, 'coop', 1)
    assert 'train/loss' in torch.load(source, weights_only=True)['message_hub']['log_scalars']
    resumable = saved_copy(source, tmp_path / 'nan_loss.pth', logged_nan)
    assert run_tool('train', runs['configs']['coop'], '--work-dir', tmp_path / 'w', '--resume',
                    resumable, '--no-test') == ''


# -- 6. class names that break the output ---------------------------------------------
@pytest.mark.parametrize('content,problem', [
    ('blue\nred\n'.encode('utf-16'), 'is UTF-16 text (it starts with a UTF-16 byte-order mark)'),
    (b'blue\n\xffred\n', 'is not UTF-8 text (byte 0xff at position 5)'),
])
def test_a_class_file_that_is_not_utf8_is_one_line(runs, tmp_path, content, problem):
    names = tmp_path / 'names.txt'
    names.write_bytes(content)
    line = run_tool('infer', runs['configs']['coop'], checkpoint(runs, 'coop'),
                    next(runs['data'].rglob('*.jpg')), '--classes-file', names)
    assert line == (f'error: Class names file {names} {problem}: save it as UTF-8, one class '
                    'name per line.')


def test_class_lists_that_would_break_the_output(runs, tmp_path, capsys):
    config, ckpt = runs['configs']['coop'], checkpoint(runs, 'coop')
    image = next(runs['data'].rglob('*.jpg'))
    # A name given twice: the run goes on, with one warning.
    assert run_tool('infer', config, ckpt, image, '--classes', 'blue,blue,red') == ''
    err = capsys.readouterr().err
    assert "warning: --classes names 'blue' twice (classes 1 and 2): their prompts are " \
        'identical, so each gets part of the probability; give each class once.' in err.splitlines()
    # A line break in a name: refused before anything is built.
    assert run_tool('infer', config, ckpt, image, '--classes', 'blue,re\nd') == (
        "error: --classes: class name 2 ('re\\nd') holds a line break ('\\n'); each class name "
        'is one line of text.')
    # A comma (or colon, quote) in a class-file name: the output quotes it as JSON.
    names = tmp_path / 'names.txt'
    names.write_text('cracked, dry\nbanded\nnote: "x"\n', encoding='utf-8-sig')  # with a BOM
    assert run_tool('infer', config, ckpt, image, '--classes-file', names, '--topk', '3') == ''
    (line, ) = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith(str(image))
    ]
    image_field, labels = line.split(': ', 1)
    assert image_field == str(image)
    parsed = re.findall(r'("(?:[^"\\]|\\.)*"|[^",]+) (\d\.\d{3})(?:, |$)', labels)
    assert sorted(json.loads(n) if n.startswith('"') else n for n, _ in parsed) == \
        ['banded', 'cracked, dry', 'note: "x"']


# -- 7. wrong words -------------------------------------------------------------------
def test_a_folder_fifo_or_device_says_what_it_is(runs, tmp_path):
    config, image = runs['configs']['coop'], next(runs['data'].rglob('*.jpg'))
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    folder = runs['work']['coop']
    assert run_tool('test', config, folder, '--work-dir', tmp_path / 'w') == (
        f'error: Checkpoint {folder} is a folder, not a checkpoint file; its newest complete '
        f'checkpoint is {folder / "epoch_2.pth"}: give the .pth file.')
    assert run_tool('test', config, fifo, '--work-dir', tmp_path / 'w') == (
        f'error: Checkpoint {fifo} is a named pipe (FIFO), not a checkpoint file: give a .pth '
        'file.')
    assert run_tool('train', config, '--work-dir', tmp_path / 'w', '--resume', '/dev/null') == (
        'error: Checkpoint /dev/null to resume from is a character device, not a checkpoint '
        'file: give a .pth file.')
    assert run_tool('infer', config, 'none', image, '--classes-file', fifo) == (
        f'error: Class names file {fifo} is a named pipe (FIFO); give a text file with one '
        'class name per line.')
    assert run_tool('infer', config, 'none', image, '--classes-file', tmp_path) == (
        f'error: Class names file {tmp_path} is a folder; give a text file with one class name '
        'per line.')
    assert not (tmp_path / 'w').exists()


def test_shots_off_the_base_to_novel_protocol_warn(runs, tmp_path, capsys):
    assert run_tool('train', runs['configs']['coop'], '--work-dir', tmp_path, '--shots', '1',
                    '--cfg-options', 'train_cfg.max_epochs=1') == ''
    assert ('warning: --shots 1: the base2novel protocol trains 16 shots per class, as its '
            'published numbers do; this run trains 1, and its results are filed as 1-shot '
            'runs, not comparable with the 16-shot ones.') in capsys.readouterr().err.splitlines()
    (record, ) = records(tmp_path)
    assert record['shots'] == 1


def test_zero_shot_infer_without_classes_fails_before_building_the_model(
        runs, monkeypatch, tmp_path):
    import mmpretrain.apis
    built = []
    monkeypatch.setattr(mmpretrain.apis.model, 'init_model',
                        lambda *a, **k: built.append(a) or pytest.fail('built a model'))
    config = tmp_path / 'zero_shot' / 'base2novel_dtd.py'
    config.parent.mkdir()
    cfg = tiny(
        load(CONFIGS / 'zero_shot_clip' / 'base2novel_dtd.py'), runs['data'].parent, tmp_path)
    cfg.dump(config)
    line = run_tool('infer', config, 'none', next(runs['data'].rglob('*.jpg')))
    assert line == ('error: No checkpoint and no class names for ZeroShotCLIP: give the '
                    'checkpoint of a trained run (it saves its class names), or, for a model '
                    'that learns nothing (zero-shot CLIP), the class names (classes=[...], or '
                    '--classes a,b,c).')
    assert not built


def test_a_failed_run_leaves_no_empty_log_folder(runs, tmp_path):
    kgcoop, coop = checkpoint(runs, 'kgcoop'), runs['configs']['coop']
    work = tmp_path / 'existing'
    work.mkdir()
    assert run_tool('test', coop, kgcoop, '--work-dir', work).startswith('error: ')
    assert run_tool('test', coop, kgcoop, '--work-dir', tmp_path / 'new').startswith('error: ')
    assert not [p for p in work.iterdir() if p.is_dir()]  # no log folder
    assert not (tmp_path / 'new').exists()  # nor the work dir it created
    assert run_tool('test', coop, checkpoint(runs, 'coop'), '--work-dir', work) == ''
    assert [r.method for r in collect_runs([work]).runs] == ['CoOp']


def test_a_log_folder_that_holds_results_is_kept_and_says_why_the_run_stopped(tmp_path):
    from maple_mm.engine.runners.maple_runner import remove_unmeasured_log_folder
    measured, empty = tmp_path / '20250101_000000', tmp_path / '20250101_000001'
    for folder in (measured, empty):
        folder.mkdir()
        (folder / f'{folder.name}.log').write_text('started\n')
    (measured / METRICS_FILE).write_text('{}')
    for folder in (measured, empty):
        remove_unmeasured_log_folder(str(folder), MapleUserError('the test set broke'))
    assert not empty.exists()
    assert (measured / f'{measured.name}.log').read_text().splitlines() == [
        'started', 'The run stopped here: MapleUserError: the test set broke'
    ]
