"""Hostile and broken checkpoints at every entry point, as a user or an attacker would try them.

Every entry point that reads a checkpoint (tools/test.py under MapleRunner and
under mmengine's plain Runner, tools/infer.py, tools/train.py with --resume and
with load_from, ``maple_mm.apis.load_model``, the reference converter) is run
on the same crafted files; the tools run in this process (their ``main``
through ``run_cli``, as the command line does) to spare the imports, except
where a separate process is the point (memory, concurrency).
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub
from mmpretrain.registry import MODELS

from maple_mm.apis import load_model
from maple_mm.engine import load_checkpoint_file
from maple_mm.errors import ClassNameError, MapleUserError
from ..conftest import REPO_ROOT, load_tool, write_split_dataset
from .test_train_test_e2e import tiny_config

pytestmark = pytest.mark.long_running(seconds=31)

TOOLS = REPO_ROOT / 'tools'


class FileCreatingPayload:
    """Unpickled without weights_only, this creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


def run_tool(tool: str, *argv) -> str:
    """The last line ``tools/<tool>.py`` ends with, run in this process ('' if it succeeds)."""
    _cli = load_tool('tools/_cli.py')
    module = load_tool(f'tools/{tool}.py')
    try:
        _cli.run_cli(module.main, [str(a) for a in argv])
    except SystemExit as exit_info:
        return str(exit_info.code)
    return ''


def hub_state() -> dict:
    hub = MessageHub.get_instance('hostile_inputs')
    hub.update_scalar('train/loss', 1.0)
    return hub.state_dict()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A config, an image, and checkpoints: good, with a payload, NaN, huge-finite, 50 MB names."""
    tmp = tmp_path_factory.mktemp('hostile')
    data = write_split_dataset(tmp / 'toy', train=4, test=2)
    config = tiny_config(tmp, data, epochs=2)
    model = MODELS.build(Config.fromfile(config).model)
    model.set_class_names(['red_square', 'green circle', 'blue'])
    state = model.state_dict()
    meta = dict(epoch=1, iter=3, seed=1, dataset_meta=dict(classes=model.class_names))

    def save(name, state_dict=state, **extra):
        path = tmp / name
        torch.save(
            dict(dict(state_dict=state_dict, meta=meta, message_hub=hub_state()), **extra), path)
        return path

    def changed(key, value):
        return {**state, key: value}

    ctx = state['prompt_learner.ctx']
    nan_ctx = ctx.clone()
    nan_ctx[0, 0] = float('nan')
    names = json.dumps([f'class {i}' for i in range(5_000_000)]).encode()[:50 * 2**20]
    paths = dict(
        good=save('good.pth'),
        payload=save('payload.pth', meta=dict(meta, note=FileCreatingPayload(tmp / 'PWNED'))),
        nan=save('nan.pth', changed('prompt_learner.ctx', nan_ctx)),
        inf_proj=save(
            'inf_proj.pth',
            changed('prompt_learner.deep_projs.1.weight',
                    torch.full_like(state['prompt_learner.deep_projs.1.weight'], float('inf')))),
        huge=save('huge.pth', changed('prompt_learner.ctx', torch.full_like(ctx, 3e38))),
        names_50mb=save(
            'names_50mb.pth',
            changed('_extra_state', torch.frombuffer(bytearray(names), dtype=torch.uint8))),
    )
    image = next((data / 'images').rglob('*.png'))
    # mmengine names a plain Runner's visualizer and logger after the config file and the second
    # it starts: started in the second of a MapleRunner run on the same file, it would be handed
    # that run's instances, bound to a log folder the failed run has removed. Its own file name
    # keeps it apart.
    plain_config = tmp / f'{config.stem}_plain_runner.py'
    plain_config.write_text(config.read_text())
    return dict(
        tmp=tmp,
        config=config,
        plain_config=plain_config,
        image=image,
        marker=tmp / 'PWNED',
        **paths)


def entry_points(files, checkpoint, tmp):
    """The last line of every entry point that loads ``checkpoint``."""
    config, work = files['config'], tmp / 'work'
    lines = dict(
        test=run_tool('test', config, checkpoint, '--work-dir', work / 'test'),
        test_plain_runner=run_tool('test', files['plain_config'], checkpoint, '--work-dir',
                                   work / 'plain', '--cfg-options', 'runner_type=Runner'),
        infer=run_tool('infer', config, checkpoint, files['image']),
        resume=run_tool('train', config, '--work-dir', work / 'resume', '--resume', checkpoint,
                        '--no-test'),
        load_from=run_tool('train', config, '--work-dir', work / 'load_from', '--no-test',
                           '--cfg-options', f'load_from={checkpoint}'),
    )
    try:
        load_model(str(config), str(checkpoint))
        lines['load_model'] = ''
    except MapleUserError as err:
        lines['load_model'] = f'error: {err}'
    return lines


def test_pickled_code_never_runs_whatever_torch_is_told(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')  # read by torch at each load
    lines = entry_points(files, files['payload'], tmp_path)
    assert not files['marker'].exists()
    for entry, line in lines.items():
        assert line.startswith(f'error: Checkpoint {files["payload"]}: it pickles Python '
                               'objects besides weights (io.open), so it is not loaded: '
                               'loading could run code.'), (entry, line)
        assert 'weights_only' not in line and 'Re-running' not in line, (entry, line)
    # A reference (Dassl) checkpoint with the payload: the converter stubs it out.
    reference = tmp_path / 'model.pth.tar-5'
    torch.save(
        dict(
            state_dict=dict(ctx=torch.randn(2, 64)),
            epoch=5,
            optimizer=FileCreatingPayload(files['marker'])), reference)
    load_tool('tools/model_converters/reference_to_mm.py').main(
        [str(reference), str(tmp_path / 'converted.pth')])
    assert not files['marker'].exists()
    assert 'nothing was executed): io.open' in capsys.readouterr().out
    # Both of torch's switches set: torch itself would refuse every load.
    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
    assert 'are both set' in run_tool('infer', files['config'], files['good'], files['image'])


def test_non_finite_weights_are_refused_at_every_load(files, tmp_path):
    lines = entry_points(files, files['nan'], tmp_path)
    for entry, line in lines.items():
        assert line == (f'error: Checkpoint {files["nan"]}: prompt_learner.ctx (1 of 64 values) '
                        'holds NaN or Inf values, so every prediction would be meaningless. Use '
                        'an earlier checkpoint of the run, or train again with a lower learning '
                        'rate.'), entry
    assert not list(tmp_path.rglob('*.pth')) and not list(tmp_path.rglob('test_metrics.json'))
    with pytest.raises(
            MapleUserError,
            match=re.escape(
                'prompt_learner.deep_projs.1.weight (1536 of 1536 values) holds NaN or Inf values')
    ):
        load_model(str(files['config']), str(files['inf_proj']))


def test_non_finite_scores_stop_the_test_before_a_complete_record(files, tmp_path):
    """Finite prompts of 3e38 overflow inside the model: the scores are NaN."""
    line = run_tool('test', files['config'], files['huge'], '--work-dir', tmp_path)
    assert line.startswith("error: The model gives NaN or Inf scores on test set 'base'")
    assert not list(tmp_path.rglob('test_metrics.json'))  # nothing reported, not even 0%
    line = run_tool('infer', files['config'], files['huge'], files['image'])
    assert line.startswith(f'error: The model gives NaN or Inf scores for {files["image"]}')


def run_measured(args: list, stderr_path: Path, timeout: float) -> tuple:
    """Run ``args``; return (exit code, stderr, seconds, the child's own peak RSS in MB).

    The peak comes from ``os.wait4`` on this child alone: ``RUSAGE_CHILDREN``
    reports the largest process the whole test session has started so far.
    """
    start = time.perf_counter()
    with open(stderr_path, 'w') as stderr:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=dict(os.environ, HF_HUB_OFFLINE='1'))
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (proc.returncode, stderr_path.read_text(), time.perf_counter() - start,
            usage.ru_maxrss / 1024)


def test_50mb_of_class_names_is_refused_in_bounded_time_and_memory(files, tmp_path):
    args = [sys.executable, str(TOOLS / 'infer.py')]
    args += [str(files[key]) for key in ('config', 'names_50mb', 'image')]
    code, stderr, seconds, peak_mb = run_measured(args, tmp_path / 'stderr.txt', timeout=120)
    print(f'infer.py on a 50 MB class-name state: exit {code} after {seconds:.1f} s, '
          f'peak RSS {peak_mb:.0f} MB')
    assert code == 1 and 'Traceback' not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f'error: Checkpoint {files["names_50mb"]}: its class names (_extra_state) take '
        '52,428,800 bytes, more than the 8,388,608 maple_mm reads: the file is damaged or '
        'was not written by maple_mm; use another checkpoint.')
    assert peak_mb < 3000  # ~20 GB before the bound
    line = run_tool('test', files['config'], files['names_50mb'], '--work-dir', tmp_path)
    assert 'take 52,428,800 bytes' in line


@pytest.mark.parametrize('content,problem',
                         [(b'["a", "b"', 'are not valid JSON'),
                          (b'\xff\xfe["a"]', 'are not UTF-8 text'),
                          (b'{"a": 1}', 'are a JSON dict, not a list of names'),
                          (b'["a", 3]', 'hold entries that are not class names (1 of 2, e.g. 3)')])
def test_malformed_class_names_are_one_error(files, tmp_path, content, problem):
    state = load_checkpoint_file(str(files['good']))
    state['state_dict']['_extra_state'] = torch.tensor(list(content), dtype=torch.uint8)
    path = tmp_path / 'names.pth'
    torch.save(state, path)
    with pytest.raises(
            ClassNameError, match=re.escape(f'its class names (_extra_state) {problem}')):
        load_model(str(files['config']), str(path))


def test_empty_class_names_say_which_names_are_used(files, tmp_path, monkeypatch):
    state = load_checkpoint_file(str(files['good']))
    state['state_dict']['_extra_state'] = torch.zeros(0, dtype=torch.uint8)
    path = tmp_path / 'empty_names.pth'
    torch.save(state, path)
    said = []
    monkeypatch.setattr('maple_mm.models.classifier.print_log',
                        lambda message, **kwargs: said.append(message))
    model = load_model(str(files['config']), str(path))
    assert model.class_names == ['red_square', 'green circle', 'blue']
    assert said == [
        "Using the 3 class names of the checkpoint's meta.dataset_meta (red_square, "
        'green circle, blue) as none are saved with the prompts (_extra_state is '
        'empty).'
    ]


def test_a_crafted_message_hub_is_one_error_in_test_and_resume(files, tmp_path):
    state = load_checkpoint_file(str(files['good']))
    buffer = HistoryBuffer()
    buffer._log_history, buffer._count_history = np.array([1.0, 2.0]), np.array([1.0])
    state['message_hub']['log_scalars']['train/loss'] = buffer
    path = tmp_path / 'hub.pth'
    torch.save(state, path)
    expected = (f"error: Checkpoint {path}: its message_hub log_scalars['train/loss'] holds no "
                'pair of equally long number arrays; the file is damaged or was not written '
                'by mmengine. Use another checkpoint.')
    assert run_tool('train', files['config'], '--work-dir', tmp_path / 'resume', '--resume', path,
                    '--no-test') == expected
    assert run_tool('test', files['config'], path, '--work-dir', tmp_path / 'test') == expected


def test_resume_on_another_number_of_processes_warns_once(files, tmp_path, capsys):
    state = load_checkpoint_file(str(files['good']))
    state['meta']['world_size'] = 2
    path = tmp_path / 'two_processes.pth'
    torch.save(state, path)
    assert run_tool('train', files['config'], '--work-dir', tmp_path / 'work', '--resume', path,
                    '--no-test') == ''
    log = (tmp_path / 'work').glob('*/*.log')
    warnings = [
        line for f in log for line in f.read_text().splitlines() if 'Resuming a run of' in line
    ]
    assert len(warnings) == 1 and warnings[0].endswith(
        'Resuming a run of 2 processes with 1: the total batch is now 4 (was 8), so an epoch '
        'has 2x the iterations it had; the learning rate and its schedule continue as saved '
        '(set for a total batch of 8).')
    saved = torch.load(tmp_path / 'work' / 'epoch_2.pth', weights_only=True)
    assert saved['meta']['world_size'] == 1


def test_two_concurrent_tests_keep_both_results(files, tmp_path):
    work = tmp_path / 'shared'
    stale = work / '20200101_000000' / '.test_metrics.json.4242.tmp'  # a killed write
    stale.parent.mkdir(parents=True)
    stale.write_text('{')
    os.utime(stale, (time.time() - 3600, ) * 2)
    command = [
        sys.executable,
        str(TOOLS / 'test.py'),
        str(files['config']),
        str(files['good']), '--work-dir',
        str(work)
    ]
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    results = sorted(work.glob('*/test_metrics.json'))
    assert len(results) == 2  # one log folder each, whatever second they started in
    for path in results:
        assert json.loads(path.read_text())['complete'] is True
        assert len(list(path.parent.glob('*.log'))) == 1
    assert not stale.exists()


def test_a_class_names_file_is_bounded_before_any_prompt_is_built(tmp_path):
    infer = load_tool('tools/infer.py')
    path = tmp_path / 'names.txt'
    path.write_text('\n'.join(f'class {i}' for i in range(100_001)))
    args = infer.parse_args(['config.py', 'none', 'image.png', '--classes-file', str(path)])
    with pytest.raises(ClassNameError, match='holds 100,001 class names, more than the 100,000'):
        infer.class_names(args)
