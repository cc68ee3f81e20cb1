"""Weights-only checkpoint loading: mmengine's runtime objects load, nothing runs, clear errors."""
import io
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from maple_mm.engine.hooks.weights_only_checkpoint_hook import from_plain, to_plain
from maple_mm.engine.runners.checkpoint_loader import (CONVERTER_HINT, load_checkpoint_file,
                                                       unreadable_reason, weights_only_loading)
from maple_mm.errors import CheckpointFormatError, CheckpointNotFoundError


def _hub_state(name: str) -> dict:
    hub = MessageHub.get_instance(name)
    for value in (1.5, 0.5, 2.0):
        hub.update_scalar('train/loss', value)
    hub.update_info('epoch', 3, resumed=True)
    return hub.state_dict()


def test_message_hub_survives_a_plain_weights_only_round_trip():
    state = dict(
        message_hub=_hub_state('weights_only_test'),
        meta=dict(seed=np.int64(1), epoch=3, classes=('a', 'b'), arr=np.arange(3)))
    buffer = io.BytesIO()
    torch.save(to_plain(state), buffer)
    buffer.seek(0)
    loaded = from_plain(torch.load(buffer, weights_only=True))  # no allow-list needed

    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    np.testing.assert_array_equal(restored.data[0], [1.5, 0.5, 2.0])
    assert loaded['meta']['seed'] == 1 and loaded['meta']['classes'] == ('a', 'b')
    fresh = MessageHub.get_instance('weights_only_test_resumed')
    fresh.load_state_dict(loaded['message_hub'])
    assert fresh.get_info('epoch') == 3


def test_mmengine_runtime_objects_load_only_inside_maple_mm_loads(tmp_path):
    """A checkpoint written by mmengine's own runtime (HistoryBuffer, NumPy) loads weights-only."""
    path = tmp_path / 'mmengine_runtime.pth'
    torch.save(
        dict(
            state_dict={'w': torch.ones(2)},
            message_hub=_hub_state('raw'),
            meta=dict(seed=np.int64(3), arr=np.arange(3.0))), path)
    with pytest.raises(pickle.UnpicklingError):  # plain torch refuses it ...
        torch.load(path, weights_only=True)
    loaded = load_checkpoint_file(str(path))  # ... maple_mm's loader accepts exactly these
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.mean() == pytest.approx(4 / 3)
    assert loaded['meta']['seed'] == 3
    with pytest.raises(pickle.UnpicklingError):  # and the allow-list does not outlive the load
        torch.load(path, weights_only=True)
    with weights_only_loading():
        torch.load(path, weights_only=True)


class _Payload:
    """A pickled object that would run code if unpickled without restriction."""

    def __reduce__(self):
        return (os.system, ('echo this must never run', ))


def test_checkpoints_with_pickled_objects_are_refused_without_a_converter_hint(tmp_path):
    path = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {}, 'extra': _Payload()}, path)
    with pytest.raises(CheckpointFormatError, match='pickles Python objects') as err:
        load_checkpoint_file(str(path))
    assert 'system' in str(err.value) and 'convert' not in str(err.value)
    with pytest.raises(CheckpointNotFoundError):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))


class Scheduler:
    """Pickled under Dassl's module name, as reference-code checkpoints hold one."""


def test_reference_code_checkpoints_get_the_converter_hint(tmp_path, monkeypatch):
    import sys
    import types
    monkeypatch.setattr(Scheduler, '__module__', 'dassl.optim.lr_scheduler')
    with monkeypatch.context() as patch:
        for name in ('dassl', 'dassl.optim', 'dassl.optim.lr_scheduler'):
            patch.setitem(sys.modules, name, types.ModuleType(name))
        sys.modules['dassl.optim.lr_scheduler'].Scheduler = Scheduler
        path = tmp_path / 'model.pth.tar-5'
        torch.save({'state_dict': {}, 'scheduler': Scheduler()}, path)
    with pytest.raises(CheckpointFormatError) as err:
        load_checkpoint_file(str(path))
    assert CONVERTER_HINT in str(err.value)


@pytest.mark.parametrize('kind,expected', [('empty', 'is empty (0 bytes)'),
                                           ('text', 'is a text file'),
                                           ('random', 'is not a PyTorch checkpoint'),
                                           ('truncated', 'is truncated or damaged')])
def test_unreadable_files_are_named_with_what_they_are(tmp_path, kind, expected):
    whole = tmp_path / 'whole.pth'
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, whole)
    path = tmp_path / f'{kind}.pth'
    path.write_bytes({
        'empty': b'',
        'text': b'epoch 3\nloss 0.5\n',
        'random': bytes(range(1, 256)) * 20,
        'truncated': whole.read_bytes()[:2000]
    }[kind])
    assert expected in unreadable_reason(str(path))
    with pytest.raises(
            CheckpointFormatError, match=expected.replace('(', r'\(').replace(')', r'\)')):
        load_checkpoint_file(str(path))
    assert unreadable_reason(str(whole)) is None


def test_damaged_archives_are_named_by_what_the_file_holds(tmp_path):
    """A record that fails its CRC (which torch would load as wrong weights), or a zip that
    is no torch checkpoint: the archive is checked, never torch's message text."""
    import zipfile
    whole = tmp_path / 'whole.pth'
    torch.save({'state_dict': {'w': torch.full((64, 64), 0.5)}}, whole)
    data = bytearray(whole.read_bytes())
    with zipfile.ZipFile(whole) as archive:
        record = next(i for i in archive.infolist() if i.filename.endswith('/data/0'))
    offset = record.header_offset + 30 + len(record.filename) + len(record.extra) + 100
    data[offset:offset + 8] = b'\x00' * 8  # the storage's bytes, not its headers
    spoilt = tmp_path / 'spoilt.pth'
    spoilt.write_bytes(bytes(data))
    other = tmp_path / 'other.pth'
    with zipfile.ZipFile(other, 'w') as archive:
        archive.writestr('notes.txt', 'not a checkpoint')
    assert unreadable_reason(str(spoilt)) is None and unreadable_reason(str(other)) is None
    for path, expected in ((spoilt, 'fails its CRC check'), (other, 'holds no data.pkl')):
        with pytest.raises(CheckpointFormatError, match=expected):
            load_checkpoint_file(str(path))


def test_mmengine_loads_are_weights_only_inside_the_block_and_restored_after(tmp_path, monkeypatch):
    """Relies on mmengine's CheckpointLoader._schemes (a private attribute): this test fails
    first if a new mmengine keeps its loaders elsewhere."""
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

    from maple_mm.engine import safe_checkpoint_loading
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    path = tmp_path / 'payload.pth'
    torch.save({'state_dict': {}, 'extra': _Payload()}, path)
    before = dict(CheckpointLoader._schemes)
    assert '' in before  # mmengine's local-file loader
    with safe_checkpoint_loading():
        with pytest.raises(CheckpointFormatError, match='pickles Python objects'):
            _load_checkpoint(str(path))
        with pytest.raises(
                CheckpointFormatError, match='is neither a local file nor an http'
                r'\(s\) URL'):
            _load_checkpoint('s3://bucket/model.pth')
    assert dict(CheckpointLoader._schemes) == before
    assert list(CheckpointLoader._schemes) == list(before)  # '' still matched last
