"""Any shipped config in seconds on a CPU: the tiny random CLIP, small images, a few images.

:func:`tiny_overrides` gives the ``--cfg-options`` that run a config unchanged otherwise
(its method, recipe, protocol, hooks and runner) on :data:`~maple_mm.models.TINY_CLIP_CFG`
and on datasets under another folder; :func:`write_smoke_dataset` writes a few generated
images in the CoOp split-file format. ``tools/smoke.py`` (``make smoke``) runs a method's
demo config with both; the tests run mmpretrain's own tools the same way.
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from maple_mm.datasets.catalog import BENCHMARKS, DATA_ROOT, dataset_key_of_type
from maple_mm.models.clip import TINY_CLIP_CFG

#: The tiny CLIP's input size and its number of blocks per tower.
TINY_IMAGE_SIZE = TINY_CLIP_CFG['vision_cfg']['image_size']
TINY_DEPTH = min(TINY_CLIP_CFG['vision_cfg']['layers'], TINY_CLIP_CFG['text_cfg']['layers'])
#: Prompt-depth arguments of the prompt learners.
DEPTH_KEYS = ('depth', 'depth_text', 'depth_vision')
#: Pipeline arguments that are an image size.
SIZE_KEYS = ('scale', 'crop_size')
LOADERS = ('train_dataloader', 'test_dataloader')


def _flat(prefix: str, value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, item in value.items() for k, v in _flat(f'{prefix}.{key}', item).items()}


def _dataset_root(dataset: dict, data_root: str) -> Dict[str, str]:
    """``data_root`` for a dataset config: a benchmark's folder, or a ``data/...`` folder,
    moved under ``data_root``."""
    own = dataset.get('data_root')
    if isinstance(own, str) and own.startswith(f'{DATA_ROOT}/'):
        return {'data_root': f'{data_root}/{own[len(DATA_ROOT) + 1:]}'}
    key = dataset_key_of_type(dataset.get('type')) if isinstance(dataset.get('type'), str) else None
    if own is None and key is not None:
        return {'data_root': f'{data_root}/{BENCHMARKS[key].folder}'}
    return {}


def tiny_overrides(cfg, data_root: str, epochs: int = 1) -> Dict[str, Any]:
    """Dotted config keys and values that run ``cfg`` on the tiny CLIP, quickly.

    The CLIP becomes :data:`TINY_CLIP_CFG` with random weights, prompt depths at most its
    depth, images its size; the datasets' folders move from ``data/`` to ``data_root``;
    loaders run without workers; training lasts ``epochs``.
    """
    options = {
        'model.backbone.pretrained': None,
        **_flat('model.backbone.model_cfg', TINY_CLIP_CFG)
    }
    for key in DEPTH_KEYS:
        depth = (cfg.model.get('prompt_learner') or {}).get(key)
        if isinstance(depth, int) and depth > TINY_DEPTH:
            options[f'model.prompt_learner.{key}'] = TINY_DEPTH
    for loader in LOADERS:
        if not cfg.get(loader):
            continue
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False  # mmpretrain's tools turn it on
        dataset = cfg[loader].dataset
        options.update({
            f'{loader}.dataset.{k}': v
            for k, v in _dataset_root(dataset, data_root).items()
        })
        for index, step in enumerate(dataset.get('pipeline') or []):
            for key in SIZE_KEYS:
                if isinstance(step.get(key), int):
                    options[f'{loader}.dataset.pipeline.{index}.{key}'] = TINY_IMAGE_SIZE
    for name, fields in ((cfg.get('test_cfg') or {}).get('extra_sets') or {}).items():
        options.update({
            f'test_cfg.extra_sets.{name}.{k}': v
            for k, v in _dataset_root(fields, data_root).items()
        })
    if cfg.get('train_dataloader') and cfg.get('train_cfg'):
        options['train_cfg.max_epochs'] = epochs
    return options


def cfg_option_strings(options: Dict[str, Any]) -> List[str]:
    """``options`` as ``--cfg-options`` words (``key=value``; mmengine reads None and True)."""
    return [f'{key}={value}' for key, value in options.items()]


#: Colours of the generated classes: the first half are the base classes.
SMOKE_CLASSES = {
    'red': (200, 40, 40),
    'green': (40, 180, 60),
    'blue': (40, 60, 200),
    'yellow': (220, 200, 40)
}


def write_smoke_dataset(root: Path,
                        images_per_split: Sequence[int] = (4, 1, 4),
                        split_file: str = 'split_zhou_Smoke.json') -> Path:
    """A dataset of :data:`SMOKE_CLASSES` (one plain colour each, with noise) in the CoOp
    split-file format: ``root/images/<class>/*.png`` and ``root/<split_file>``.

    ``images_per_split``: images per class in train, val and test.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    splits = {}
    for split, count in zip(('train', 'val', 'test'), images_per_split):
        splits[split] = []
        for label, (name, colour) in enumerate(SMOKE_CLASSES.items()):
            for index in range(count):
                path = Path('images') / name / f'{split}_{index}.png'
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                pixels = np.clip(
                    rng.normal(colour, 30, (TINY_IMAGE_SIZE, TINY_IMAGE_SIZE, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(root / path)
                splits[split].append([path.relative_to('images').as_posix(), label, name])
    (root / split_file).write_text(json.dumps(splits))
    return root
