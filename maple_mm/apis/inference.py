"""Classify images against any class names with a trained (or zero-shot) prompted CLIP.

The class names a checkpoint was trained on are saved in it and restored on
loading; any other list can be given. The text features of a class list are
computed once and reused for every batch of images.
"""
import contextlib
import copy
import json
import os
import unicodedata
from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer, get_model
from mmpretrain.datasets import remove_transform

from maple_mm.class_names import check_class_list
from maple_mm.datasets.image_check import image_problem
from maple_mm.datasets.image_loading import read_image
from maple_mm.engine.runners.checkpoint_loader import check_checkpoint_file, safe_checkpoint_loading
from maple_mm.errors import (ClassNameError, ConfigError, DatasetNotFoundError, ImageDecodeError,
                             NonFiniteOutputError)
from maple_mm.evaluation.run_record import method_of
from maple_mm.progress import Progress
from maple_mm.provenance import expecting_writer

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.gif')


def load_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               classes: Optional[Sequence[str]] = None,
               allow_other_method: bool = False):
    """The config's model with the checkpoint's prompts and class names (weights-only).

    ``classes`` replaces the saved class names (checked first: one line of text
    each; a name given twice warns). A model that learns nothing (zero-shot
    CLIP) needs no checkpoint, but then class names. The checkpoint is loaded
    weights-only whatever torch's environment switches say, and refused (one
    error) if its learned weights hold NaN or Inf, its class names are
    malformed, or another method (or CLIP architecture) wrote it, unless
    ``allow_other_method``.
    """
    if isinstance(config, str):
        if not os.path.isfile(config):
            raise ConfigError(f'Config {config} does not exist; the configs are in '
                              'configs/<method>/.')
        config = Config.fromfile(config)
    if classes is not None:
        classes = check_class_list(classes, 'The class list')
    if checkpoint:
        check_checkpoint_file(checkpoint)
    elif not classes and not (config.get('model') or {}).get('class_names'):
        raise ClassNameError(f'No checkpoint and no class names for {method_of(config)}: give '
                             'the checkpoint of a trained run (it saves its class names), or, '
                             'for a model that learns nothing (zero-shot CLIP), the class names '
                             '(classes=[...], or --classes a,b,c).')
    if allow_other_method:
        config = copy.deepcopy(config)
        config.allow_other_method = True
    with safe_checkpoint_loading(), expecting_writer(config):
        model = get_model(config, pretrained=checkpoint or False, device=device)
    if not checkpoint and any(p.requires_grad for p in model.parameters()):
        raise ConfigError(f'{type(model).__name__} learns prompts: give the checkpoint of a '
                          'trained run (zero-shot CLIP alone needs none).')
    if classes:
        model.set_class_names(list(classes))
    if not getattr(model, 'class_names', None):
        raise ClassNameError('No class names: the checkpoint has none saved; give them '
                             '(classes=[...], or --classes a,b,c).')
    return model


class PromptedCLIPInferencer(ImageClassificationInferencer):
    """mmpretrain's image-classification inferencer, where ``classes=`` sets the prompts.

    With mmpretrain's own :class:`ImageClassificationInferencer` the class names
    come from the checkpoint (or ``model.set_class_names``); ``classes=`` there
    only renames its output. Here ``classes=`` (or :meth:`set_classes`)
    rebuilds the prompts, so the names reported are the names the prompts
    were built from. Checkpoints are loaded weights-only.
    """

    def __init__(self,
                 model,
                 pretrained: Union[bool, str] = True,
                 device=None,
                 classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        writer = expecting_writer(Config.fromfile(model) if isinstance(model, str) else model) \
            if isinstance(model, (str, Config)) and pretrained not in (True, False, None) \
            else contextlib.nullcontext()
        with safe_checkpoint_loading(), writer:
            super().__init__(model, pretrained=pretrained, device=device, **kwargs)
        if classes is not None:
            self.set_classes(classes)
        self.classes = self.model.class_names  # the live list: never stale

    def set_classes(self, classes: Sequence[str]) -> None:
        """Classify against ``classes`` from now on (checked as :func:`load_model` checks)."""
        self.model.set_class_names(check_class_list(classes, 'The class list'))
        self.classes = self.model.class_names

    def _init_pipeline(self, cfg: Config):
        # The image is decoded in preprocess, so the config's loader goes, whichever it is.
        cfg = copy.deepcopy(cfg)
        cfg.test_dataloader.dataset.pipeline = remove_transform(
            cfg.test_dataloader.dataset.pipeline, 'LoadImageWithPIL')
        return super()._init_pipeline(cfg)

    def preprocess(self, inputs, batch_size: int = 1):
        """Image paths are decoded as the reference does (:func:`read_image`: PIL, RGB,
        no EXIF orientation), not by mmpretrain's OpenCV loader."""
        decoded = (read_image(x) if isinstance(x, (str, Path)) else x for x in inputs)
        yield from super().preprocess(decoded, batch_size)


def output_field(text: str) -> str:
    """``text`` as one field of :func:`result_line`: bare when nothing in it can be misread,
    else a JSON string (quoted, with escapes for quotes, backslashes and line breaks)."""
    plain = text and text == text.strip() and not any(
        c in ',:"\\' or unicodedata.category(c) in ('Cc', 'Zl', 'Zp') for c in text)
    return text if plain else json.dumps(text, ensure_ascii=False)


def result_line(result: dict) -> str:
    """``IMAGE: NAME SCORE, NAME SCORE, ...``: one line per image, fields as
    :func:`output_field` writes them, scores with 3 decimals."""
    labels = ', '.join(f'{output_field(name)} {score:.3f}' for name, score in result['labels'])
    return f'{output_field(result["image"])}: {labels}'


def image_files(inputs: Sequence[str]) -> List[str]:
    """Image paths from files and folders (folders searched recursively, sorted)."""
    found = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(
                str(p) for p in path.rglob('*')
                if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(str(path))
        else:
            raise DatasetNotFoundError(f'{item} is neither an image file nor a folder.')
    if not found:
        raise DatasetNotFoundError(f'No images ({", ".join(IMAGE_SUFFIXES)}) in '
                                   f'{", ".join(inputs)}.')
    for path in found:
        problem = image_problem(path, decode=False)
        if problem:
            raise ImageDecodeError(f'Image {path} cannot be read: {problem}.')
    return found


@torch.no_grad()
def classify_images(model,
                    images: Sequence[str],
                    topk: int = 5,
                    batch_size: int = 32,
                    progress: bool = False) -> List[dict]:
    """``[{'image', 'labels': [(class name, score), ...]}]``, the top ``topk`` per image.

    ``progress`` reports done / total images, rate and ETA on stderr
    (:mod:`maple_mm.progress`); nothing is written to stdout.
    """
    inferencer = PromptedCLIPInferencer(model)
    results = []
    report = Progress(len(images), 'classify', 'images') if progress else None
    for start in range(0, len(images), batch_size):
        chunk = list(images[start:start + batch_size])
        # The inferencer's own __call__ draws a rich bar on stdout, where the results go.
        predictions = []
        for data in inferencer.preprocess(chunk, batch_size=batch_size):
            predictions.extend(inferencer.forward(data))
        for path, sample in zip(chunk, predictions):
            if not bool(torch.isfinite(sample.pred_score).all()):
                raise NonFiniteOutputError(
                    f'The model gives NaN or Inf scores for {path}: its weights or inputs '
                    'are broken, so no prediction is reported. Check the checkpoint.')
            scores, labels = sample.pred_score.topk(min(topk, len(model.class_names)))
            results.append(
                dict(
                    image=path,
                    labels=[(model.class_names[int(i)], float(s)) for s, i in zip(scores, labels)]))
        if report is not None:
            report.update(len(chunk))
    if report is not None:
        report.close()
    return results
