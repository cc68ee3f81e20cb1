"""The tiny end-to-end training run that several test modules of the tools read."""
import pytest

from ..conftest import write_split_dataset


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """One 2-epoch run of tools/train.py on the tiny demo config (every checkpoint kept)."""
    from .test_train_test_e2e import run_tool, tiny_config
    tmp = tmp_path_factory.mktemp('e2e')
    data = write_split_dataset(tmp / 'toy')
    config = tiny_config(tmp, data)
    work_dir = tmp / 'work'
    proc = run_tool('train.py', config, '--work-dir', work_dir, '--cfg-options',
                    'default_hooks.checkpoint.max_keep_ckpts=-1')
    return dict(config=config, work_dir=work_dir, data=data, log=proc.stdout + proc.stderr)
