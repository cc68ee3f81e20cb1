"""PromptAlign's source statistics: token means and variances of every vision block's input.

PromptAlign aligns the statistics of a test image's views to those of the
source data (ImageNet's training images through the MaPLe prompts the model
was trained with). Its repository ships no code for them; its maintainers
describe two passes over the data, the means first and then the variances
around those means, of the tokens each vision block receives (GitHub issues
#5 and #12 of jameelhassan/PromptAlign). :func:`compute_source_statistics` does
that, and the file format is maple_mm's own (docs/test-time.md#source-statistics):

``torch.save`` of a dict (loads with ``torch.load(weights_only=True)``)::

    format   'maple_mm.source_statistics'   version  1
    mean     float32 (L, T, D): per vision block, token position and channel
    var      float32 (L, T, D): the variance around ``mean`` (biased: divided by N)
    images   N, the number of images
    model    {'type', 'clip', 'learner', 'checkpoint'}: what made them (informative)
    dataset  what they were computed on (informative)

L is the number of vision blocks (12 for ViT-B/16), T the tokens of a prompted
image (class token + patches + vision prompts: 1 + 196 + 2 for MaPLe's 2
context tokens) and D the vision width (768). Block 0's input is the ``ln_pre``
output with the prompts appended; block k's the previous block's output with
the deep prompts in place.
"""
import os
import pickle
import zipfile
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import torch

from maple_mm.atomic_files import save_torch_atomically
from maple_mm.errors import SourceStatisticsError
from ..prompt_learner import Prompts

FORMAT, VERSION = 'maple_mm.source_statistics', 1
FIX = 'compute it for this model with tools/source_statistics.py'


def expected_layout(model) -> Tuple[int, int, int]:
    """(blocks, tokens, width) of the model's prompted vision tower."""
    visual = model.backbone.clip.visual
    tokens = int(visual.positional_embedding.shape[0])
    if not model.prompt_learner.image_conditional:
        with torch.no_grad():
            vision_ctx = model.prompt_learner().vision_ctx
        tokens += 0 if vision_ctx is None else int(vision_ctx.shape[0])
    return len(visual.transformer.resblocks), tokens, int(visual.transformer.width)


def block_inputs(model, images: torch.Tensor) -> List[torch.Tensor]:
    """Each vision block's input (B, T, D) for normalised ``images``, with the model's prompts."""
    learner = model.prompt_learner
    prompts = Prompts() if learner.image_conditional else learner()
    inputs: List[torch.Tensor] = []
    model.image_features(images, prompts, block_inputs=inputs)
    return inputs


@torch.no_grad()
def compute_source_statistics(
        model,
        batches: Callable[[], Iterable[torch.Tensor]],
        on_batch: Optional[Callable[[int], None]] = None) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """Two passes over ``batches()`` (normalised images): (mean, var, images).

    Pass 1 sums every block's input tokens (float64) into their means; pass 2
    sums the squared differences to those means into the variances (biased),
    exactly, with no running estimate. ``on_batch(n)`` is called after each
    batch of n images (both passes), e.g. to report progress.
    """
    total, count = None, 0
    for images in batches():
        inputs = torch.stack(block_inputs(model, images)).double()  # (L, B, T, D)
        total = inputs.sum(dim=1) if total is None else total + inputs.sum(dim=1)
        count += images.shape[0]
        if on_batch:
            on_batch(images.shape[0])
    if not count:
        raise SourceStatisticsError('The source dataset holds no images: the statistics would '
                                    'be empty. Check the dataset of source_statistics.')
    mean = total / count
    squares = torch.zeros_like(mean)
    for images in batches():
        inputs = torch.stack(block_inputs(model, images)).double()
        squares += ((inputs - mean.unsqueeze(1))**2).sum(dim=1)
        if on_batch:
            on_batch(images.shape[0])
    return mean.float(), (squares / count).float(), count


def save_source_statistics(path: str, mean: torch.Tensor, var: torch.Tensor, images: int,
                           model: Dict[str, object], dataset: str) -> None:
    """Write the statistics file (temporary file, flushed, renamed: never half a file)."""
    save_torch_atomically(
        dict(
            format=FORMAT,
            version=VERSION,
            mean=mean.contiguous(),
            var=var.contiguous(),
            images=int(images),
            model=dict(model),
            dataset=str(dataset)), path)


def _read(path: str) -> dict:
    if not os.path.isfile(path):
        raise SourceStatisticsError(f'Source statistics file {path} does not exist: {FIX} '
                                    '(docs/test-time.md#source-statistics).')
    from maple_mm.engine.runners.checkpoint_loader import unreadable_reason
    reason = unreadable_reason(path)  # reads the first bytes and the zip directory only
    if reason:
        raise SourceStatisticsError(f'Source statistics file {path} {reason}; {FIX}.')
    try:
        content = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        raise SourceStatisticsError(f'Source statistics file {path} pickles Python objects '
                                    f'besides tensors, so it is not loaded; {FIX}.') from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SourceStatisticsError(f'Source statistics file {path} is damaged or not a torch '
                                    f'file ({reason[:120]}); {FIX}.') from None
    if not isinstance(content, dict) or content.get('format') != FORMAT:
        raise SourceStatisticsError(f'{path} is not a maple_mm source statistics file (no format '
                                    f'{FORMAT!r}); {FIX}.')
    if content.get('version') != VERSION:
        raise SourceStatisticsError(f'{path} is a version {content.get("version")!r} source '
                                    f'statistics file; this maple_mm reads version {VERSION}: '
                                    f'{FIX}.')
    return content


def check_statistics(path: str, content: dict, layout: Tuple[int, int, int]) -> None:
    """One clear error if the statistics do not fit a (blocks, tokens, width) vision tower."""
    mean, var = content.get('mean'), content.get('var')
    for name, value in (('mean', mean), ('var', var)):
        if not torch.is_tensor(value) or value.dim() != 3 or not value.is_floating_point():
            raise SourceStatisticsError(
                f'{path}: its {name} is not a floating-point (blocks, tokens, width) tensor; '
                f'{FIX}.')
    if mean.shape != var.shape:
        raise SourceStatisticsError(f'{path}: its mean {tuple(mean.shape)} and var '
                                    f'{tuple(var.shape)} differ in shape; {FIX}.')
    found = tuple(mean.shape)
    for what, have, want in zip(('vision blocks', 'tokens', 'width'), found, layout):
        if have != want:
            raise SourceStatisticsError(
                f'{path} holds statistics of {have} {what}, but this model\'s prompted vision '
                f'tower has {want} (blocks, tokens, width = {layout}; the file: {found}): it '
                f'was made for another CLIP or number of prompt tokens; {FIX}.')
    if not bool(torch.isfinite(mean).all() and torch.isfinite(var).all()):
        raise SourceStatisticsError(f'{path} holds NaN or Inf values; {FIX}.')
    if bool((var < 0).any()):
        raise SourceStatisticsError(f'{path} holds negative variances; {FIX}.')


def load_source_statistics(path: str, model) -> Tuple[torch.Tensor, torch.Tensor]:
    """(mean, var), each (L, T, D), read weights-only and checked against ``model``."""
    path = os.path.expanduser(str(path))
    content = _read(path)
    check_statistics(path, content, expected_layout(model))
    return content['mean'].float(), content['var'].float()


def read_source_statistics(path: str) -> dict:
    """The whole file (mean, var, images, model, dataset), read weights-only, not checked."""
    return _read(os.path.expanduser(str(path)))


def describe_statistics(content: dict) -> str:
    """One line: how many images, the shape, and the magnitudes."""
    mean = content['mean']
    return (f'{content.get("images")} images, {mean.shape[0]} blocks x {mean.shape[1]} tokens x '
            f'{mean.shape[2]} channels (mean |mean| {float(mean.abs().mean()):.4g}, mean var '
            f'{float(content["var"].mean()):.4g}), from {content.get("dataset")}')
