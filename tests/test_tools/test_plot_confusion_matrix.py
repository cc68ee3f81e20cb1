"""tools/plot_confusion_matrix.py on the test_metrics.json a test writes (counts as floats)."""
import pytest
import torch

from maple_mm.evaluation.run_metrics import write_test_metrics
from maple_mm.run_layout import METRICS_FILE
from ..conftest import load_tool


def test_values_in_the_cells_and_no_overwrite(tmp_path):
    matrix = torch.tensor([[4, 1], [0, 5]])
    write_test_metrics(
        tmp_path / METRICS_FILE, {
            'base/confusion_matrix/result': matrix,
            'base/accuracy/top1': 90.0
        },
        record={},
        classes={'base': ['cat', 'dog']},
        complete=True)
    tool = load_tool('tools/plot_confusion_matrix.py')
    cli = load_tool('tools/_cli.py')
    cli.run_cli(tool.main,
                [str(tmp_path / METRICS_FILE), '--values', '--out-dir',
                 str(tmp_path / 'plots')])
    png = tmp_path / 'plots' / 'confusion_matrix_base.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert [p.name for p in png.parent.iterdir()] == [png.name]  # no temporary file left
    with pytest.raises(SystemExit, match='already exists'):
        cli.run_cli(tool.main, [str(tmp_path / METRICS_FILE), '--out-dir', str(png.parent)])
