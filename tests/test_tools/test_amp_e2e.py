"""tools/train.py end to end on the CPU in fp32 (the default there), bf16 and fp16.

The fp32 case reads the shared training process of the e2e tests; the two forced
precisions run the tool in this process (the same path, without ~10 s of imports each).
"""
import json
import math

import pytest

from ..conftest import run_tool_here_ok, write_split_dataset
from .test_train_test_e2e import read_test_metrics, tiny_config

pytestmark = pytest.mark.long_running(seconds=17)


@pytest.mark.parametrize('precision', ['fp32', 'bf16', 'fp16'])
def test_tiny_run_trains_and_tests_without_nan(tmp_path, precision, request, capfd):
    if precision == 'fp32':  # the recipe's default on a CPU: the shared run of the e2e tests
        run = request.getfixturevalue('trained')
        work_dir, log = run['work_dir'], run['log']
    else:  # --amp (the older spelling) and --precision force
        data = write_split_dataset(tmp_path / 'toy')
        config = tiny_config(tmp_path, data, epochs=2)
        work_dir = tmp_path / 'work'
        option = {'bf16': ['--amp', 'bf16'], 'fp16': ['--precision', 'fp16']}[precision]
        out = run_tool_here_ok(capfd, 'train', config, '--work-dir', work_dir, *option)
        log = out.out + out.err
    assert f'Precision on cpu: {precision}' in log
    if precision != 'fp32':
        assert "type='MixedPrecisionOptimWrapper'" in log and f"precision='{precision}'" in log
    else:
        assert 'MixedPrecisionOptimWrapper' not in log
    scalars = [
        json.loads(line)
        for line in next(work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    ]
    # At least one loss line per epoch; a slow machine adds progress lines between them.
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert len(losses) >= 2 and all(math.isfinite(x) for x in losses)
    metrics = read_test_metrics(work_dir)
    assert {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
