"""Convert a checkpoint of the reference prompt-learning code into a maple_mm checkpoint.

    python tools/model_converters/reference_to_mm.py IN OUT [--method auto|METHOD] [--force]

IN is a file saved by any trainer of the reference implementations (Dassl), e.g.
``.../MultiModalPromptLearner/model.pth.tar-5`` (MaPLe),
``.../VLPromptLearner/model.pth.tar-20`` (IVLP, language-only prompting,
PromptSRC) or ``.../prompt_learner/model.pth.tar-50`` (CoOp, CoCoOp, VPT,
KgCoOp), or a bare state dict of such a model. The method is read from the
keys (``--method auto``); ``--method`` names it where the keys cannot tell
(a PromptSRC state dict without its frozen image tower has IVLP's keys).
OUT gets only the learned prompts, in fp32, under maple_mm's names. Reading
IN never executes pickled code. The logic and the key mapping are in
:mod:`maple_mm.models.reference_checkpoint`.
"""
import argparse
import os
import sys
import warnings
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from maple_mm.models.reference_checkpoint import (  # noqa: E402  isort: skip
    METHODS, ConversionError, convert_checkpoint_file)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a checkpoint of the reference prompt-learning code (Dassl, e.g. '
        'model.pth.tar-5 of CoOp, CoCoOp, VPT, IVLP, MaPLe, KgCoOp or PromptSRC) into a '
        'maple_mm checkpoint, without executing any pickled code.')
    parser.add_argument('input', metavar='IN', help='reference checkpoint or bare state dict')
    parser.add_argument('output', metavar='OUT', help='maple_mm checkpoint to write')
    parser.add_argument(
        '--method',
        choices=('auto', ) + METHODS,
        default='auto',
        help='reference trainer that wrote IN (default: read from its keys; '
        "'language' is IVLP with text prompts only)")
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
    except ConversionError as error:
        if os.environ.get('MAPLE_DEBUG'):
            raise
        sys.exit(f'error: {error}')
