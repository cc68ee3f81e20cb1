"""Convert a checkpoint of the reference prompt-learning code into a maple_mm checkpoint.

    python tools/model_converters/reference_to_mm.py IN OUT [--method auto|METHOD] [--force]

IN is a file saved by a trainer of the reference implementations (Dassl), e.g.
``.../MultiModalPromptLearner/model.pth.tar-5``, ``.../VLPromptLearner/model.pth.tar-20``
or ``.../prompt_learner/model.pth.tar-50``, or a bare state dict of such a
model. The method is read from the keys (``--method auto``); ``--method``
names it where the keys cannot tell. OUT gets only the learned prompts, in
fp32, under maple_mm's names. Reading IN never executes pickled code. The
methods declare their reference layouts; the conversion is
:mod:`maple_mm.checkpoints.reference_converter`.
"""
import argparse
import os
import sys
import warnings
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from maple_mm.checkpoints.reference_converter import (  # noqa: E402  isort: skip
    convert_checkpoint_file, reference_layouts)
from maple_mm.errors import MapleUserError  # noqa: E402  isort: skip


def parse_args(argv=None) -> argparse.Namespace:
    layouts = reference_layouts()
    trainers = ', '.join(layout.trainer for layout, _ in layouts.values())
    parser = argparse.ArgumentParser(
        description='Convert a checkpoint of the reference prompt-learning code (Dassl, e.g. '
        f'model.pth.tar-5 of {trainers}) into a maple_mm checkpoint, without executing any '
        'pickled code.')
    parser.add_argument('input', metavar='IN', help='reference checkpoint or bare state dict')
    parser.add_argument('output', metavar='OUT', help='maple_mm checkpoint to write')
    parser.add_argument(
        '--method',
        choices=('auto', *layouts),
        default='auto',
        help='reference trainer that wrote IN (default: read from its keys): ' +
        ', '.join(f'{name} ({layout.trainer})' for name, (layout, _) in layouts.items()))
    parser.add_argument('--force', action='store_true', help='overwrite OUT if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    """Convert IN into OUT and print a summary; returns OUT."""
    args = parse_args(argv)
    for line in convert_checkpoint_file(args.input, args.output, args.method, args.force):
        print(line)
    return args.output


if __name__ == '__main__':
    try:
        main()
    except MapleUserError as error:
        if os.environ.get('MAPLE_DEBUG'):
            raise
        sys.exit(f'error: {error}')
