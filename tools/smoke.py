"""Train and test a method in under a minute on a CPU: its demo on a tiny CLIP and a few images.

    python tools/smoke.py [METHOD] [--work-dir DIR]        (make smoke METHOD=coop)

METHOD is a config folder (default maple). Its demo config (the method's base-to-novel
recipe, runner and hooks) runs through tools/train.py (tools/test.py for zero-shot CLIP),
unchanged but for --cfg-options that put it on a tiny random CLIP and a few generated
images (4 colours, 2 base and 2 novel classes) for one epoch; it ends with Base / Novel / HM.
The numbers say nothing about the method: they show that the installation trains and tests.
"""
import argparse
import importlib.util
import os
import time
from pathlib import Path

from _cli import REPO_ROOT, package_module, run_cli

#: Every method's config folder, from the metafiles (no torch for --help).
METHODS = list(package_module('method_zoo').method_folders())


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'method', nargs='?', default='maple', choices=METHODS, help='config folder (maple)')
    parser.add_argument(
        '--work-dir',
        default=os.path.join('work_dirs', 'smoke'),
        help='each smoke run writes its images and run into a new folder here')
    return parser.parse_args(argv)


def tool(name: str):
    """The ``main`` of ``tools/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f'maple_tools.{name}',
                                                  os.path.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    from mmengine.config import Config

    from maple_mm.method_zoo import CONFIGS_DIR, DEMO_CONFIG
    from maple_mm.smoke import cfg_option_strings, tiny_overrides, write_smoke_dataset
    config = CONFIGS_DIR / args.method / DEMO_CONFIG
    run_dir = Path(args.work_dir) / f'{args.method}_{time.strftime("%Y%m%d_%H%M%S")}'
    run_dir.mkdir(parents=True)  # a new folder: never an earlier run's
    split_file = 'split_zhou_Smoke.json'
    data = write_smoke_dataset(run_dir / 'data', split_file=split_file)
    cfg = Config.fromfile(str(config))
    options = tiny_overrides(cfg, str(data))
    for loader in ('train_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            options.update({
                f'{loader}.dataset.data_root': str(data),
                f'{loader}.dataset.split_file': split_file
            })
    trains = bool(cfg.get('train_dataloader'))
    print(
        f'smoke: {args.method} on a tiny random CLIP and {data} '
        f'({"tools/train.py" if trains else "tools/test.py"} {config.relative_to(REPO_ROOT)})',
        flush=True)
    tool('train' if trains else 'test')([
        str(config), '--work-dir',
        str(run_dir / 'run'), '--cfg-options', *cfg_option_strings(options)
    ])
    print(f'smoke: {args.method} {"trained and " if trains else ""}tested in '
          f'{time.perf_counter() - start:.0f} s; logs in {run_dir / "run"}')


if __name__ == '__main__':
    run_cli(main)
