import io

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from maple_mm.compat import from_plain, to_plain


def test_message_hub_survives_a_weights_only_round_trip():
    hub = MessageHub.get_instance('weights_only_test')
    for value in (1.5, 0.5, 2.0):
        hub.update_scalar('train/loss', value)
    hub.update_info('epoch', 3, resumed=True)
    state = dict(message_hub=hub.state_dict(),
                 meta=dict(seed=np.int64(1), epoch=3, classes=('a', 'b'), arr=np.arange(3)))

    buffer = io.BytesIO()
    torch.save(to_plain(state), buffer)
    buffer.seek(0)
    loaded = from_plain(torch.load(buffer, weights_only=True))

    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    np.testing.assert_array_equal(restored.data[0], [1.5, 0.5, 2.0])
    assert restored.mean() == hub.get_scalar('train/loss').mean()
    assert loaded['meta']['seed'] == 1 and loaded['meta']['classes'] == ('a', 'b')
    fresh = MessageHub.get_instance('weights_only_test_resumed')
    fresh.load_state_dict(loaded['message_hub'])
    assert fresh.get_info('epoch') == 3


def test_plain_checkpoint_without_the_hook_is_refused_weights_only():
    """Why the hook exists: mmengine's raw message hub does not load weights-only."""
    import pytest
    hub = MessageHub.get_instance('weights_only_raw')
    hub.update_scalar('train/loss', 1.0)
    buffer = io.BytesIO()
    torch.save(dict(message_hub=hub.state_dict()), buffer)
    buffer.seek(0)
    with pytest.raises(Exception, match='[Ww]eights only'):
        torch.load(buffer, weights_only=True)


class _Payload:
    """A pickled object that would run code if unpickled without restriction."""

    def __reduce__(self):
        return (print, ('this must never run',))


def test_checkpoints_with_pickled_objects_are_refused(tmp_path):
    import pytest

    from maple_mm.compat import load_from_local_weights_only
    from maple_mm.errors import CheckpointFormatError, CheckpointNotFoundError
    path = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {}, 'extra': _Payload()}, path)
    with pytest.raises(CheckpointFormatError, match='convert'):
        load_from_local_weights_only(str(path))
    with pytest.raises(CheckpointNotFoundError):
        load_from_local_weights_only(str(tmp_path / 'missing.pth'))


def test_mmengine_loads_local_files_weights_only():
    from mmengine.runner.checkpoint import CheckpointLoader

    from maple_mm.compat import load_from_local_weights_only
    assert CheckpointLoader._get_checkpoint_loader('/some/file.pth') is \
        load_from_local_weights_only
