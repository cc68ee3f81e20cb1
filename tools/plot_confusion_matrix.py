"""Plot the confusion matrix of each test set of a run.

    python tools/plot_confusion_matrix.py RUN_DIR_OR_METRICS_JSON [--sets base novel]
                                          [--out-dir DIR] [--values]

The run must have been tested with a ConfusionMatrix metric, e.g.
    python tools/test.py CONFIG CKPT --cfg-options \\
        "test_evaluator=[dict(type='Accuracy',topk=(1,)),dict(type='ConfusionMatrix')]"
The matrices and the class names of every set are read from the run's
test_metrics.json; one PNG per set (confusion_matrix_<set>.png) is written.
"""
import argparse
import json
from pathlib import Path

from _cli import errors, package_module, run_cli

layout = package_module('run_layout')  # imports nothing heavy: --help answers at once
replaced_atomically = package_module('atomic_files').replaced_atomically

KEY = 'confusion_matrix/result'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('source', help='a run folder (its newest test) or a test_metrics.json')
    parser.add_argument('--sets', nargs='+', help='test sets to plot (default: all)')
    parser.add_argument('--out-dir', help='folder for the PNGs (default: beside the metrics)')
    parser.add_argument('--values', action='store_true', help='write the counts in the cells')
    return parser.parse_args(argv)


def metrics_file(source: str) -> Path:
    path = Path(source)
    found = path if path.is_file() else layout.newest_test_metrics(path)
    if found is None:
        raise errors.RunMetricsError(
            f'No {layout.METRICS_FILE} under {source}: test the run first.')
    return found


def main(argv=None) -> None:
    args = parse_args(argv)
    path = metrics_file(args.source)
    content = json.loads(path.read_text())
    arrays, classes = content.get('arrays', {}), content.get('classes', {})
    available = [k[:-len(KEY) - 1] for k in arrays if k.endswith('/' + KEY)]
    if not available:
        raise errors.RunMetricsError(
            f'{path} holds no confusion matrix: test with a ConfusionMatrix '
            'metric in test_evaluator (see this tool\'s help).')
    missing = [s for s in args.sets or [] if s not in available]
    if missing:
        raise errors.RunMetricsError(
            f'No confusion matrix for {missing} in {path}; it has {available}.')
    out_dir = Path(args.out_dir or path.parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    from mmpretrain.evaluation import ConfusionMatrix
    for name in args.sets or available:
        # Counts: test_metrics.json stores numbers as floats; the cell labels need ints.
        counts = torch.tensor(arrays[f'{name}/{KEY}']).round().long()
        figure = ConfusionMatrix.plot(
            counts, include_values=args.values, classes=classes.get(name), show=False)
        out = out_dir / f'confusion_matrix_{name}.png'
        if out.exists():
            raise errors.WorkDirError(f'{out} already exists; choose another --out-dir.')
        with replaced_atomically(out) as tmp:
            figure.savefig(tmp, format='png', bbox_inches='tight')
        plt.close(figure)
        print(f'{name}: {out}')


if __name__ == '__main__':
    run_cli(main)
