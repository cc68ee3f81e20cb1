"""Evaluate a checkpoint (loaded weights-only) on the config's test sets.

    python tools/test.py CONFIG [CHECKPOINT] [--seed S] [--shots K] [--work-dir DIR]
                         [--precision {fp32,fp16,bf16,amp}] [--out PREDICTIONS.pkl]
                         [--allow-other-method] [--cfg-options k=v ...]

CHECKPOINT may be left out only for a model with nothing to learn (zero-shot CLIP), or
when the config's test loop tunes the prompts it builds (``test_cfg.tuned_method``: TPT on
zero-shot CLIP, whose context "a photo of a" is where test-time tuning starts).
A checkpoint's test is recorded under the run that wrote it (its method, dataset,
shots, seed and experiment), which it carries.
"""
import argparse
import copy
import logging

from _cli import add_common_args, build_runner, errors, finish_distributed, load_config, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='experiment config')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='maple_mm checkpoint (or a converted reference one); not needed '
        'by a model without trainable parameters')
    parser.add_argument(
        '--out',
        help='also dump every test set\'s predictions (pickle); with '
        'several sets, one file each: <stem>_<set>.pkl')
    add_common_args(parser)
    return parser.parse_args(argv)


def trainable_parameters(model_cfg: dict) -> int:
    """How many values the config's model would learn.

    Built with random CLIP weights (``pretrained=None``), so nothing is
    downloaded or read just to find out.
    """
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    cfg = copy.deepcopy(model_cfg)
    if 'pretrained' in (cfg.get('backbone') or {}):
        cfg['backbone']['pretrained'] = None
    init_default_scope('mmpretrain')
    logging.disable(logging.WARNING)  # open_clip's "initialized randomly": meant here
    try:
        model = MODELS.build(cfg)
    finally:
        logging.disable(logging.NOTSET)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main(argv=None) -> None:
    args = parse_args(argv)
    from maple_mm.engine.runners.checkpoint_loader import (check_checkpoint_file,
                                                           safe_checkpoint_loading)
    from maple_mm.provenance import expecting_writer
    if args.checkpoint is not None:
        check_checkpoint_file(args.checkpoint)
    cfg = load_config(args)
    if not cfg.get('test_dataloader'):
        raise errors.MapleUserError(f'{args.config} defines no test_dataloader to evaluate on.')
    if args.checkpoint is None and not (cfg.get('test_cfg') or {}).get('tuned_method'):
        learned = trainable_parameters(cfg.model)
        if learned:
            raise errors.MapleUserError(
                f'{args.config} needs a checkpoint: its model learns '
                f'{learned:,} values. Pass the CHECKPOINT of a training run.')
    cfg.load_from, cfg.resume = args.checkpoint, False
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpResults', out_file_path=args.out)]

    # Whichever runner the config names: weights-only, and the checkpoint must be one of the
    # config's method and CLIP.
    with safe_checkpoint_loading(), expecting_writer(cfg):
        runner = build_runner(cfg)
        runner.test()
    del runner  # freed while the process group still exists
    finish_distributed(launched=args.launcher != 'none')


if __name__ == '__main__':
    run_cli(main)
