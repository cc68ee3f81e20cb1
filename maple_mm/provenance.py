"""What a checkpoint says about the run that wrote it, checked wherever it is loaded or tested.

Every checkpoint a maple_mm run writes carries ``meta['written_by']``::

    method   the method whose training wrote the weights (its model type), e.g. 'KgCoOp'
    clip     the CLIP they were learned on: model_name ('custom' for a model_cfg),
             pretrained (tag, or the file's base name), embed_dim, text and vision
             widths and layers
    run      the training run's identity: method, protocol, dataset, shots, seed, config,
             variant, allow_other_method (what a test of the checkpoint records)
    classes  the class names it was trained on
    data     a fingerprint of the training data (:func:`list_fingerprint` of every list
             of its split source: how many items, how many classes, a hash of them)

A reference checkpoint converted by ``tools/model_converters/reference_to_mm.py``
carries the method the converter detected (or was told), the widths its
prompts reveal and the file it was converted from (:func:`converted_writer`).

Loading compares the writer with the model the config builds
(:func:`expecting_writer`, :func:`check_writer`): another method, or another
CLIP architecture, stops with one line naming both, unless the config sets
``allow_other_method`` (``--allow-other-method``), which the run record keeps.
Learned on other pretrained weights of the same architecture gives a warning.
Checkpoints without the entry (written before it existed, or by other tools)
load with a note. Testing compares the tested data with the training data
(:func:`check_tested_set`): other class names in the main test set are an
error, another test list a warning.
"""
import contextlib
import hashlib
import json
import logging
import os.path as osp
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, List, Mapping, Optional, Sequence

from mmengine.logging import print_log

from maple_mm.class_names import check_class_name_bounds
from maple_mm.errors import CheckpointFormatError, OtherWriterError, TrainedDataMismatchError

#: The ``meta`` entry of a checkpoint that says what wrote it.
WRITTEN_BY = 'written_by'
#: The widths and names that make two CLIPs different architectures.
ARCHITECTURE_KEYS = ('model_name', 'embed_dim', 'text_width', 'text_layers', 'vision_width',
                     'vision_layers')
#: The fields of a run record that say which run a checkpoint belongs to.
IDENTITY_KEYS = ('method', 'dataset', 'shots', 'seed', 'config', 'variant')
ALLOW_HINT = ('pass --allow-other-method (allow_other_method=True in Python) to load it anyway; '
              'the run record keeps that')


# -- what wrote a checkpoint -------------------------------------------------------------
def clip_identity(backbone: Optional[Mapping]) -> Optional[dict]:
    """The CLIP a backbone config builds: name, weights, widths and layers (no CLIP is built)."""
    if not isinstance(backbone, Mapping):
        return None
    model_cfg = backbone.get('model_cfg')
    if model_cfg is None:
        name = backbone.get('model_name', 'ViT-B-16')
        try:
            import open_clip
            model_cfg = open_clip.get_model_config(name) if name else None
        except Exception:  # noqa: BLE001  an unknown name: the backbone reports it
            model_cfg = None
    else:
        name = 'custom'
    model_cfg = model_cfg if isinstance(model_cfg, Mapping) else {}
    vision, text = model_cfg.get('vision_cfg') or {}, model_cfg.get('text_cfg') or {}
    pretrained = backbone.get('pretrained')
    return dict(
        model_name=name,
        pretrained=osp.basename(pretrained) if isinstance(pretrained, str) else None,
        embed_dim=model_cfg.get('embed_dim'),
        text_width=text.get('width'),
        text_layers=text.get('layers'),
        vision_width=vision.get('width'),
        vision_layers=vision.get('layers'))


def describe_clip(clip: Optional[Mapping]) -> str:
    """'ViT-B-16 (openai)' or 'a custom CLIP (text width 32, vision width 48)'."""
    if not clip:
        return 'an unknown CLIP'
    weights = clip.get('pretrained') or 'random weights'
    name = clip.get('model_name')
    if name and name != 'custom':
        return f'{name} ({weights})'
    widths = ', '.join(f'{key.replace("_", " ")} {clip[key]}'
                       for key in ('text_width', 'vision_width', 'embed_dim')
                       if clip.get(key) is not None)
    return f'a custom CLIP ({widths or "widths unknown"}; {weights})'


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def architecture_differences(written: Optional[Mapping], built: Optional[Mapping]) -> List[str]:
    """The architecture fields that both CLIPs state and that differ."""
    if not written or not built:
        return []
    found = []
    for key in ARCHITECTURE_KEYS:
        a, b = written.get(key), built.get(key)
        if key == 'model_name' and 'custom' in (a, b):
            continue  # a model_cfg has no name: its widths decide
        if a is not None and b is not None and not _same(a, b):
            found.append(key)
    return found


def list_fingerprint(items: Sequence) -> dict:
    """How many items, how many classes, and a hash of ``[(path, label, class name), ...]``."""
    text = json.dumps([list(item) for item in items], ensure_ascii=False)
    return dict(
        items=len(items),
        classes=len({item[1]
                     for item in items}),
        sha256=hashlib.sha256(text.encode('utf-8')).hexdigest()[:16])


def split_fingerprint_of(dataset) -> Optional[dict]:
    """A built dataset's fingerprint of its split source (CoOp datasets), else None."""
    fingerprint = getattr(dataset, 'split_fingerprint', None)
    return fingerprint if isinstance(fingerprint, dict) else None


def training_writer(cfg, train_dataset) -> dict:
    """``meta['written_by']`` of a checkpoint of the run ``cfg`` training on ``train_dataset``."""
    from maple_mm.evaluation.run_record import run_record
    record = run_record(cfg)
    return dict(
        method=record['method'],
        clip=clip_identity((cfg.get('model') or {}).get('backbone')),
        run={key: record.get(key)
             for key in (*IDENTITY_KEYS, 'protocol', 'allow_other_method')},
        classes=list(getattr(train_dataset, 'metainfo', {}).get('classes') or []),
        data=split_fingerprint_of(train_dataset))


def converted_writer(method: str, widths: Mapping, source: str, detected: bool) -> dict:
    """``meta['written_by']`` of a converted reference checkpoint: the method (model type)
    the converter detected from the keys or was told, the widths the prompts reveal."""
    return dict(
        method=method,
        clip={
            key: widths[key]
            for key in ('embed_dim', 'text_width', 'vision_width') if key in widths
        },
        converted_from=osp.basename(source),
        method_detected=detected)


def read_writer(path: str, checkpoint: Mapping) -> Optional[dict]:
    """A checkpoint's ``meta['written_by']``, checked to be well formed; None if it has none."""
    meta = checkpoint.get('meta')
    written = meta.get(WRITTEN_BY) if isinstance(meta, Mapping) else None
    if written is None:
        return None
    problem = None
    if not isinstance(written, Mapping):
        problem = f'is a {type(written).__name__}, not a dict'
    elif not isinstance(written.get('method'), str):
        problem = 'names no method'
    elif any(not isinstance(written.get(k), (Mapping, type(None)))
             for k in ('clip', 'run', 'data')):
        problem = 'has a clip, run or data entry that is not a dict'
    elif not isinstance(written.get('classes', []), (list, tuple)) or not all(
            isinstance(n, str) for n in written.get('classes', [])):
        problem = 'has classes that are not a list of names'
    if problem:
        raise CheckpointFormatError(f'Checkpoint {path}: its meta.{WRITTEN_BY} {problem}; the '
                                    'file is damaged or was not written by maple_mm. Use '
                                    'another checkpoint.')
    check_class_name_bounds(
        written.get('classes', []), f'Checkpoint {path}: its meta.{WRITTEN_BY}.classes')
    return dict(written)


# -- loading: the model the checkpoint goes into -------------------------------------------
@dataclass(frozen=True)
class ExpectedWriter:
    """The model a checkpoint is being loaded into: method and CLIP of the config."""

    method: Optional[str]
    clip: Optional[dict]
    allow_other_method: bool = False


_EXPECTED: ContextVar[Optional[ExpectedWriter]] = ContextVar(
    'maple_mm_expected_writer', default=None)


def expected_writer(cfg) -> ExpectedWriter:
    """What ``cfg`` builds, and whether it lets another method's checkpoint in."""
    from maple_mm.evaluation.run_record import method_of
    model = cfg.get('model') or {}
    return ExpectedWriter(
        method_of(cfg), clip_identity(model.get('backbone')), bool(cfg.get('allow_other_method')))


class RecordsItsWriter:
    """Marks a model class whose checkpoints say what wrote them (maple_mm's methods)."""


def _is_prompted_model(cfg) -> bool:
    """Whether ``cfg`` builds one of maple_mm's methods (a :class:`RecordsItsWriter`), whose
    checkpoints say what wrote them; other mmpretrain models (a linear probe, ...) are not
    checked."""
    from mmpretrain.registry import MODELS
    model_type = (cfg.get('model') or {}).get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type, str) else model_type
    return isinstance(model_cls, type) and issubclass(model_cls, RecordsItsWriter)


@contextlib.contextmanager
def expecting_writer(cfg) -> Iterator[None]:
    """Within the block, the checkpoints loaded (:func:`check_writer`) must fit ``cfg``
    (when it builds one of maple_mm's methods)."""
    token = _EXPECTED.set(expected_writer(cfg) if _is_prompted_model(cfg) else None)
    try:
        yield
    finally:
        _EXPECTED.reset(token)


def check_writer(path: str, checkpoint: Mapping) -> None:
    """Refuse a checkpoint of another method or CLIP architecture than the expected model.

    Outside :func:`expecting_writer` (e.g. the converter, a bare ``load_checkpoint_file``)
    only the entry's form is checked.
    """
    written = read_writer(path, checkpoint)
    expected = _EXPECTED.get()
    if expected is None:
        return
    if written is None:
        print_log(
            f'note: checkpoint {path} does not say which method and CLIP wrote it (written '
            'before maple_mm recorded it, or by another tool), so that is not checked; its '
            'tests record the config\'s method and settings.',
            logger='current',
            level=logging.WARNING)
        return
    method, clip = written['method'], written.get('clip')
    problems = []
    if expected.method and method != expected.method:
        problems.append(f'was written by {method}{_converted(written)}, but the config builds '
                        f'{expected.method}: its results would be filed under {expected.method}.'
                        f' Use a {method} config')
    differ = architecture_differences(clip, expected.clip)
    if differ:
        problems.append(f'was learned on {describe_clip(clip)}, but the config builds '
                        f'{describe_clip(expected.clip)} (other {", ".join(differ)}). Use the '
                        'CLIP it was trained with (model.backbone)')
    if problems and not expected.allow_other_method:
        raise OtherWriterError(f'Checkpoint {path} ' + '; it '.join(problems) +
                               f', or {ALLOW_HINT}.')
    if problems:
        on = f' on {describe_clip(clip)}' if differ else ''
        into = f' on {describe_clip(expected.clip)}' if differ else ''
        print_log(
            f'Checkpoint {path} was written by {method}{on}; loaded into {expected.method}'
            f'{into} as allow_other_method asks (the run record keeps that).',
            logger='current',
            level=logging.WARNING)
    elif clip and expected.clip and clip.get('model_name') \
            and clip.get('pretrained') != expected.clip.get('pretrained'):
        print_log(
            f'Checkpoint {path} was learned on {describe_clip(clip)}; the config builds '
            f'{describe_clip(expected.clip)}. Fine if both are the same weights (a tag and its '
            'downloaded file); other weights make its prompts meaningless.',
            logger='current',
            level=logging.WARNING)


def _converted(written: Mapping) -> str:
    """' (converted from F; ...)' for a converted reference checkpoint, else ''."""
    if not written.get('converted_from'):
        return ''
    how = ('read the method from its keys: convert it again with --method if the reference '
           'trainer was another' if written.get('method_detected') else 'was told the method')
    return f' (converted from {written["converted_from"]}; the converter {how})'


# -- testing: the data the weights are tested on -----------------------------------------
def weights_record(file: Optional[str], written: Optional[Mapping]) -> dict:
    """What a test records about the weights it tests: their file and what wrote them."""
    return dict(file=file, written_by=dict(written) if written else None)


def describe_class_difference(trained: Sequence[str], tested: Sequence[str]) -> str:
    """'label 1 was 'blue', is now 'navy'' or '4 classes then, 5 now; new: ...'."""
    if len(trained) == len(tested):
        changed = [(i, a, b) for i, (a, b) in enumerate(zip(trained, tested)) if a != b]
        shown = '; '.join(f'label {i} was {a!r}, is now {b!r}' for i, a, b in changed[:3])
        more = f' (and {len(changed) - 3} more)' if len(changed) > 3 else ''
        return f'{shown}{more}'
    added = [n for n in tested if n not in trained]
    removed = [n for n in trained if n not in tested]
    parts = [f'{len(trained)} classes then, {len(tested)} now']
    if added:
        parts.append(f'new: {", ".join(map(repr, added[:3]))}')
    if removed:
        parts.append(f'gone: {", ".join(map(repr, removed[:3]))}')
    return '; '.join(parts)


def check_tested_set(weights: Optional[Mapping],
                     set_name: str,
                     dataset,
                     main: bool,
                     logger=None,
                     warned: Optional[set] = None) -> Optional[dict]:
    """Compare a test set with the data the tested weights were trained on.

    The main test set (the first: base, or the whole test set) must have the
    training class names (:class:`TrainedDataMismatchError` names the
    difference); a test list that differs from the one in the training split
    source gives one warning (once per list in ``warned``). Returns the set's
    fingerprint, for the run record.
    """
    tested = split_fingerprint_of(dataset)
    written = (weights or {}).get('written_by') or {}
    where = f'checkpoint {weights["file"]}' if (weights or {}).get('file') else 'the weights'
    classes = written.get('classes')
    if main and classes:
        now = list(getattr(dataset, 'metainfo', {}).get('classes') or [])
        if now != list(classes):
            raise TrainedDataMismatchError(
                f'Test set {set_name!r} has other class names than {where} was trained on: '
                f'{describe_class_difference(list(classes), now)}. The data changed since '
                'training, or the config tests another dataset: test on the data it was '
                'trained on, or train again.')
    trained = written.get('data')
    split = getattr(dataset, 'split', None)
    if tested and trained and split and all(
            trained.get(k) == tested.get(k) for k in ('dataset', 'source')):
        before = (trained.get('lists') or {}).get(split)
        now = (tested.get('lists') or {}).get(split)
        seen = warned if warned is not None else set()
        if before and now and before.get('sha256') != now.get('sha256') \
                and (tested['source'], split) not in seen:
            seen.add((tested['source'], split))
            message = (f'Test set {set_name!r}: the {split} list of {tested["source"]} is not '
                       f'the one {where} was trained beside ({before.get("items")} items then, '
                       f'{now.get("items")} now): these numbers are not comparable with tests '
                       'on the earlier list. The run record keeps both fingerprints.')
            print_log(message, logger=logger or 'current', level=logging.WARNING)
    return tested
