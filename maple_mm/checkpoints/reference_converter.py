"""Checkpoints of the reference prompt-learning code, converted by the layouts the methods declare.

Reads a file saved by a trainer of the reference implementations (Dassl, e.g.
``output/.../MultiModalPromptLearner/model.pth.tar-5`` or
``.../prompt_learner/model.pth.tar-50``), or a bare state dict of such a
model, and maps its learned prompts onto maple_mm's names
(``tools/model_converters/reference_to_mm.py`` is its command line). Which
reference key becomes which, and with what shape, is each method's
:class:`~maple_mm.checkpoints.reference_layout.ReferenceLayout`, declared on
its model class next to its learner; this module iterates the registered
methods and knows none by name.

Reading never executes pickled code: the file goes through the restricted
unpickler every checkpoint load uses
(:mod:`maple_mm.checkpoints.restricted_unpickler`); the Dassl optimizer /
scheduler objects reference checkpoints pickle become inert stubs (nothing of
Dassl needs to be installed). Only the ``state_dict`` entry is used.

Which trainer wrote a state dict is read from its keys: the layouts whose keys
it holds, all of them and no other layout's; a layout extending another is
chosen only by its signature keys; a prompt learner saved alone (no frozen
CLIP) is preferred to a whole saved model where both fit. Where the keys cannot
tell (a state dict of the learned prompts alone), ``method`` names the trainer.
"""
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from maple_mm.atomic_files import save_torch_atomically
from maple_mm.errors import MapleUserError
from maple_mm.provenance import converted_writer
from .reference_layout import (FROZEN_CLIP_KEYS, FROZEN_CLIP_PREFIXES, PL, Linear, Numbered,
                               ReferenceLayout, Rule, Tensor, learner_alone, registered_layouts)
from .restricted_unpickler import InertStub, pickled_globals, restricted_load

__all__ = [
    'ConversionError', 'InputNotFoundError', 'OutputExistsError', 'InertStub', 'reference_layouts',
    'reference_layout', 'load_reference_checkpoint', 'normalise_keys', 'detect_method',
    'convert_state_dict', 'describe', 'model_config', 'convert_checkpoint_file'
]

#: Globals a genuine Dassl checkpoint pickles (in its optimizer / scheduler
#: state); anything else is reported, although it is stubbed out just the same.
_EXPECTED_GLOBAL_PREFIXES = ('dassl.', 'torch.optim.', 'collections.', 'builtins.dict',
                             'builtins.list', 'numpy.', 'copyreg._reconstructor')
#: The CLIP a reference checkpoint was most likely trained with, by its widths.
_CLIP_HINTS = {
    (512, 768): "ViT-B-16 with pretrained='openai' (the reference default; ViT-B-32 has the "
    'same widths)',
    (768, 1024): "ViT-L-14 with pretrained='openai'",
}
_WIDTHS = ('text_width', 'vision_width', 'embed_dim')


class ConversionError(MapleUserError, ValueError):
    """The input cannot be converted; the message says why and what to do."""


class InputNotFoundError(ConversionError, FileNotFoundError):
    """The reference checkpoint does not exist."""


class OutputExistsError(ConversionError, FileExistsError):
    """The output exists and ``--force`` was not given."""


# -- the registered layouts ------------------------------------------------------------
def _registered() -> Dict[str, Tuple[ReferenceLayout, str]]:
    """``{name: (layout, model type)}`` of maple_mm's methods, in registration order."""
    import maple_mm.models  # noqa: F401  registers the methods
    return registered_layouts()


def reference_layouts() -> Dict[str, Tuple[ReferenceLayout, str]]:
    """``{name: (layout, model type)}`` of every registered method that declares one.

    In the methods' table order (:func:`maple_mm.method_zoo.table_order`),
    then by name.
    """
    from maple_mm.method_zoo import table_order

    found = _registered()
    order = {method: i for i, method in enumerate(table_order())}
    return {
        name: found[name]
        for name in sorted(found, key=lambda n: (order.get(found[n][1], len(order)), n))
    }


def reference_layout(method: str) -> ReferenceLayout:
    """The layout the converter calls ``method`` (``--method``)."""
    layouts = _registered()
    if method not in layouts:
        raise ConversionError(f'Unknown method {method!r}; choose one of '
                              f'{", ".join(reference_layouts())} or \'auto\'.')
    return layouts[method][0]


# -- loading without executing anything ------------------------------------------------
def _unsafe_globals(path: str) -> List[str]:
    try:
        return pickled_globals(path)
    except Exception as err:  # legacy (non-zip) format, torchscript, corrupt file
        raise ConversionError(
            f'{path} cannot be read weights-only and its pickled globals cannot be listed '
            f'({err}). Only files written by torch.save with torch >= 1.6 (zip format) are '
            'supported; re-save the state dict with a recent torch and convert that.') from None


def _load_weights_only(path: str) -> Tuple[object, List[str]]:
    """The restricted load; pickled objects become :class:`InertStub`."""
    try:
        return restricted_load(path), []
    except pickle.UnpicklingError as first_err:
        unsafe = _unsafe_globals(path)
        if not unsafe:
            raise ConversionError(f'{path} cannot be loaded weights-only: {first_err}') from None
    except MapleUserError:
        raise
    except Exception as err:
        raise ConversionError(f'{path} is not a readable torch checkpoint: {err}') from None
    try:
        return restricted_load(path, stubbed=unsafe), unsafe
    except Exception as err:
        raise ConversionError(
            f'Refusing to load {path}: even with the pickled objects {unsafe} replaced by '
            f'inert stubs, weights-only loading fails ({err}). Nothing in it was '
            'executed.') from None


def _is_bare_state_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def load_reference_checkpoint(path: str) -> dict:
    """Load a reference checkpoint without executing any pickled code.

    Returns the checkpoint as a dict with at least ``state_dict``; a file that
    is a bare state dict is returned as ``{'state_dict': it}``. Pickled objects
    (Dassl optimizer and scheduler state) are :class:`InertStub` instances;
    the names they replaced are listed under ``'_stubbed_globals'``.
    """
    if not osp.isfile(path):
        raise InputNotFoundError(f'Reference checkpoint {path} does not exist.')
    obj, stubbed = _load_weights_only(path)
    if _is_bare_state_dict(obj):
        checkpoint = {'state_dict': obj}
    elif isinstance(obj, Mapping) and isinstance(obj.get('state_dict'), Mapping):
        checkpoint = dict(obj)
    else:
        entries = list(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise ConversionError(
            f'{path} is neither a reference checkpoint (a dict with a "state_dict" entry) '
            f'nor a bare state dict of tensors; it holds: {entries}.')
    checkpoint['_stubbed_globals'] = stubbed
    return checkpoint


# -- reading the keys ----------------------------------------------------------------
def normalise_keys(reference_state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict':
    """Keys as the reference's ``CustomCLIP.state_dict()`` names them.

    Strips a leading ``module.`` (DataParallel), and gives back the
    ``prompt_learner.`` prefix to the state dict of a prompt learner saved on
    its own (the trainers that register only their prompt learner with Dassl
    save ``ctx``, ``meta_net.*``, ``token_prefix`` ...).
    """
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                     for k, v in reference_state_dict.items())
    layouts = [layout for layout, _ in _registered().values()]
    if not any(k.startswith(PL) for k in sd) and any(learner_alone(k, layouts) for k in sd):
        sd = OrderedDict((PL + k, v) for k, v in sd.items())
    return sd


def _globally_frozen(key: str) -> bool:
    return key in FROZEN_CLIP_KEYS or key.startswith(FROZEN_CLIP_PREFIXES)


class _Reading:
    """A normalised state dict as the registered layouts read it."""

    def __init__(self, sd: Mapping[str, torch.Tensor]) -> None:
        self.sd = sd
        self.layouts = {name: layout for name, (layout, _) in reference_layouts().items()}
        everyone = list(self.layouts.values())
        rules = {k: [r for r in (layout.rule_for(k) for layout in everyone) if r] for k in sd}
        #: Keys some layout converts or drops.
        self.known = [k for k in sd if rules[k]]
        #: Keys of a frozen CLIP (the CustomCLIP's, or one a layout declares).
        self.frozen = [
            k for k in sd
            if not rules[k] and (_globally_frozen(k) or any(lo.is_frozen(k) for lo in everyone))
        ]
        self.unknown = [k for k in sd if not rules[k] and k not in self.frozen]
        #: Keys some layout converts: learned prompts.
        self.prompts = [k for k in sd if any(r.learned for r in rules[k])]

    def own(self, layout: ReferenceLayout) -> Dict[str, Rule]:
        """The keys ``layout`` converts or drops, with their rules."""
        return {k: layout.rule_for(k) for k in self.known if layout.rule_for(k)}

    def foreign(self, layout: ReferenceLayout) -> List[str]:
        """Keys other layouts have and ``layout`` does not (their frozen towers included)."""
        return sorted(
            [k for k in self.known if not layout.rule_for(k)] +
            [k for k in self.frozen if not _globally_frozen(k) and not layout.is_frozen(k)])

    def missing(self, layout: ReferenceLayout) -> List[str]:
        return [k for k in layout.required if k not in self.sd]

    def fits(self, layout: ReferenceLayout) -> bool:
        return not self.missing(layout) and not self.foreign(layout)

    def whole_model(self) -> bool:
        """Whether the file holds a whole saved model (the frozen CLIP beside the prompts)."""
        return any(_globally_frozen(k) for k in self.frozen)


def _detectable(reading: _Reading) -> List[str]:
    """The layouts auto-detection may choose: one extending another only by its signature."""
    return [
        name for name, layout in reading.layouts.items()
        if layout.base is None or (layout.signature and layout.has_signature(reading.sd))
    ]


def _detect(reading: _Reading) -> Tuple[str, bool]:
    """``(method, fits)``: the layout whose keys the state dict holds, or the closest one."""
    if not reading.prompts:
        raise ConversionError(
            'No prompt weights of any reference trainer found: the state dict has '
            f'{len(reading.sd)} keys, e.g. {list(reading.sd)[:6]}. Expected, per trainer: ' +
            '; '.join(f'{name}: {layout.expected_keys}'
                      for name, layout in reading.layouts.items()) + '.')
    candidates = _detectable(reading)
    fitting = [name for name in candidates if reading.fits(reading.layouts[name])]
    signed = [name for name in fitting if reading.layouts[name].base is not None]
    if signed:
        return signed[0], True
    if len(fitting) > 1:  # e.g. a context alone: a prompt learner saved alone, or a whole model
        alike = [
            name for name in fitting if reading.layouts[name].saved_alone != reading.whole_model()
        ]
        fitting = alike or fitting
    if len(fitting) > 1:
        raise ConversionError(
            f'The keys fit the reference trainers {", ".join(fitting)} alike: name the one that '
            'wrote the file with --method.')
    if fitting:
        return fitting[0], True

    def closeness(name: str):
        layout = reading.layouts[name]
        return (len(reading.own(layout)), -len(reading.missing(layout)),
                -len(reading.foreign(layout)))

    return max(candidates, key=closeness), False


def detect_method(reference_state_dict: Mapping[str, torch.Tensor]) -> str:
    """The reference trainer that wrote ``reference_state_dict`` (see the module's docstring)."""
    return _detect(_Reading(normalise_keys(reference_state_dict)))[0]


# -- conversion --------------------------------------------------------------------
def _fp32(key: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ConversionError(f'{key} should be a floating point tensor, got '
                              f'{getattr(value, "dtype", type(value).__name__)}.')
    return value.detach().to(device='cpu', dtype=torch.float32).clone().contiguous()


def _shape(key: str, value: torch.Tensor, want: Tuple[int, ...], why: str) -> None:
    if tuple(value.shape) != tuple(want):
        raise ConversionError(f'{key} is {tuple(value.shape)}, expected {tuple(want)}: {why}.')


class _Converter:
    """Applies one layout's rules to a normalised state dict, in order."""

    def __init__(self, layout: ReferenceLayout, sd: Mapping[str, torch.Tensor]) -> None:
        self.layout, self.sd = layout, sd
        self.out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
        self.values: Dict[Rule, object] = {}  # a rule -> its tensor / weight / list

    def run(self) -> 'OrderedDict':
        for rule in self.layout.rules:
            if isinstance(rule, Tensor):
                self.values[rule] = self.out[rule.ours] = self._tensor(rule)
            elif isinstance(rule, Linear):
                weight, bias = self._linear(rule.reference, self._linear_shape(rule), rule.why)
                self.out[rule.ours + '.weight'], self.out[rule.ours + '.bias'] = weight, bias
                self.values[rule] = weight
            elif isinstance(rule, Numbered):
                self.values[rule] = self._numbered(rule)
        return self.out

    def _width(self, width) -> Optional[int]:
        return None if width is None else int(self.values[width.of].shape[width.axis])

    def _tensor(self, rule: Tensor) -> torch.Tensor:
        value = _fp32(rule.reference, self.sd[rule.reference])
        dims = rule.shape.count(',') + 1
        if value.dim() == dims or (rule.class_specific and value.dim() == dims + 1):
            return value
        also = f' or (num_classes, {rule.shape[1:]}' if rule.class_specific else \
            _class_specific_note(rule)
        raise ConversionError(f'{rule.reference} is {tuple(value.shape)}; expected '
                              f'{rule.shape}{also}.')

    def _linear_shape(self, rule: Linear) -> Optional[Tuple[Optional[int], Optional[int]]]:
        if rule.inputs is None and rule.outputs is None:
            return None
        return (self._width(rule.outputs), self._width(rule.inputs))

    def _linear(self, name: str, out_in, why: str = '') -> Tuple[torch.Tensor, torch.Tensor]:
        missing = [
            f'{name}.{part}' for part in ('weight', 'bias') if f'{name}.{part}' not in self.sd
        ]
        if missing:
            raise ConversionError(f'{", ".join(missing)} missing: the Linear layer {name} needs '
                                  'weight and bias.')
        weight = _fp32(name + '.weight', self.sd[name + '.weight'])
        bias = _fp32(name + '.bias', self.sd[name + '.bias'])
        if weight.dim() != 2:
            raise ConversionError(f'{name}.weight is {tuple(weight.shape)}; a Linear weight is '
                                  '(out_features, in_features).')
        out_in = tuple(w if w is not None else s
                       for w, s in zip(out_in or (None, None), weight.shape))
        if tuple(weight.shape) != out_in or tuple(bias.shape) != (out_in[0], ):
            raise ConversionError(
                f'{name} is {tuple(weight.shape)} + bias {tuple(bias.shape)}; expected '
                f'{out_in} + ({out_in[0]},){": " + why if why else ""}.')
        return weight, bias

    def _indices(self, rule: Numbered) -> List[int]:
        found = sorted({int(rule.pattern.match(k).group(1)) for k in self.sd if rule.matches(k)})
        expected = list(range(rule.first, rule.first + len(found)))
        if found != expected:
            raise ConversionError(
                f'The {rule.what} ({rule.display}) are numbered {found}; a reference model has '
                f'them for {rule.first}..{rule.first + len(found) - 1} without gaps, so this state '
                'dict is incomplete or not from the reference code.')
        return found

    def _numbered(self, rule: Numbered) -> list:
        indices = self._indices(rule)
        if rule.one_per is not None and len(indices) != len(self.values[rule.one_per]):
            other = rule.one_per
            raise ConversionError(
                f'Inconsistent checkpoint: {len(self.values[other])} {other.what} ({other.glob}) '
                f'but {len(indices)} {rule.what} ({rule.glob}); the {self.layout.trainer} trainer '
                f'saves as many {rule.what} as {other.what}.')
        items = []
        for i in indices:
            key, ours = rule.reference.format(i=i), rule.ours.format(i=i - rule.first)
            if rule.linear:
                weight, bias = self._linear(key, tuple(self.values[rule.like].shape),
                                            f'like {rule.like.reference}')
                self.out[ours + '.weight'], self.out[ours + '.bias'] = weight, bias
                items.append(weight)
            else:
                value = _fp32(key, self.sd[key])
                _shape(
                    key, value, tuple(self.values[rule.like].shape),
                    f'each of the {rule.what} ({rule.display}) has the shape of '
                    f'{rule.like.reference}')
                self.out[ours] = value
                items.append(value)
        return items


def _class_specific_note(rule: Tensor) -> str:
    """Which trainers have a class-specific form of the tensor (their own, not inherited)."""
    own, kept = [], []
    for layout, _ in _registered().values():
        if any(
                isinstance(r, Tensor) and r.reference == rule.reference and r.class_specific
                for r in layout.rules):
            (kept if layout.base is not None else own).append(layout.trainer)
    if not own:
        return ''
    note = f' (only {" and ".join(own)} {"has" if len(own) == 1 else "have"} class-specific ' \
        'contexts'
    return note + (f'; {", ".join(kept)} keep{"s" if len(kept) == 1 else ""} them)'
                   if kept else ')')


def convert_state_dict(reference_state_dict: Mapping[str, torch.Tensor],
                       method: Optional[str] = None) -> Tuple[str, 'OrderedDict']:
    """Map a reference model's state dict onto maple_mm's prompt learner.

    Args:
        reference_state_dict: The ``state_dict`` of a reference checkpoint (as
            Dassl saves it: a prompt learner saved alone without
            ``prompt_learner.``), or the reference ``CustomCLIP.state_dict()``.
        method: The name of a registered layout (:func:`reference_layouts`);
            None (or 'auto') detects it from the keys.

    Returns:
        ``(method, state dict)``: only the learned prompts, as fp32 tensors
        under maple_mm's names; token buffers and the frozen CLIP are dropped.

    Raises:
        ConversionError: Unknown keys, keys of another method, missing or
            misnumbered prompts, or shapes that do not fit together.
    """
    reading = _Reading(normalise_keys(reference_state_dict))
    if method in (None, 'auto'):
        method = _detect(reading)[0]
    layout = reference_layout(method)
    sd = reading.sd
    if reading.unknown:
        raise ConversionError(
            f'Unknown keys {reading.unknown[:6]}: no reference trainer saves them, so the '
            f'checkpoint cannot be converted faithfully. A {layout.trainer} checkpoint holds '
            f'{layout.expected_keys} and possibly the frozen CLIP (image_encoder.*, '
            'text_encoder.*, logit_scale).')
    foreign, missing = reading.foreign(layout), reading.missing(layout)
    if foreign or missing:
        guess = ''
        try:
            detected, fits = _detect(reading)
            if fits and detected != method:
                guess = (f' It looks like a checkpoint of the {reading.layouts[detected].trainer} '
                         f'trainer (--method {detected}).')
        except ConversionError:
            pass
        raise ConversionError(
            f'Not a checkpoint of the reference {layout.trainer} trainer: expected the keys '
            f'{layout.expected_keys}, but ' +
            (f'{", ".join(missing)} {"is" if len(missing) == 1 else "are"} missing'
             if missing else '') + (' and ' if missing and foreign else '') +
            (f'it also holds {foreign[:6]}, which this trainer does not have' if foreign else '') +
            f' (the state dict has {len(sd)} keys, e.g. {list(sd)[:6]}).{guess}')
    return method, _Converter(layout, sd).run()


def describe(method: str, converted: Mapping[str, torch.Tensor]) -> dict:
    """The prompt learner arguments and CLIP widths a converted state dict fits.

    The first entries are the learner's config arguments (``n_ctx``, depths,
    ``class_specific`` ...), then ``text_width`` / ``vision_width`` /
    ``embed_dim`` as far as the prompts reveal them.
    """
    return reference_layout(method).describe(converted)


def model_config(method: str, info: Mapping) -> str:
    """The ``model=dict(...)`` entries a config needs to load the converted prompts."""
    args = ', '.join(f'{k}={v!r}' for k, v in info.items() if k not in _WIDTHS)
    model_type = _registered()[method][1]
    return f"model=dict(type='{model_type}', prompt_learner=dict({args}))"


def _clip_hint(info: Mapping) -> str:
    text, vision = info.get('text_width'), info.get('vision_width')
    widths = ', '.join(f'{k.replace("_", " ")} {v}' for k, v in info.items() if k in _WIDTHS)
    for (hint_text, hint_vision), hint in _CLIP_HINTS.items():
        if text in (None, hint_text) and vision in (None, hint_vision):
            return f'{widths}: {hint}'
    return f'{widths}: the open_clip ViT with these widths'


# -- one file into another ------------------------------------------------------------
def conversion_summary(src: str, dst: str, checkpoint: dict, method: str, converted, meta) -> str:
    """One paragraph: what was converted into what, and what was dropped."""
    layout = reference_layout(method)
    reading = _Reading(normalise_keys(checkpoint['state_dict']))
    own = reading.own(layout)
    dropped_by_rule: Dict[Tuple[str, str], List[str]] = {}
    for key, rule in own.items():
        if not rule.learned:
            dropped_by_rule.setdefault((rule.what, rule.why), []).append(key)
    frozen = reading.frozen
    groups = sorted({k.split('.', 1)[0] + ('.*' if '.' in k else '') for k in frozen})
    low = sorted({
        str(value.dtype).replace('torch.', '')
        for key, value in reading.sd.items()
        if key in own and own[key].learned and value.dtype != torch.float32
    })
    others = [k for k in checkpoint if k not in ('state_dict', 'epoch', '_stubbed_globals')]
    n_params = sum(v.numel() for v in converted.values())
    shapes = ', '.join(f'{k}={v}' for k, v in meta.items()
                       if k not in ('method', 'converted_from', 'epoch'))
    dropped = []
    for (what, why), keys in dropped_by_rule.items():
        dropped.append(f'{what + " " if what else ""}{", ".join(sorted(keys))} ({why})')
    if frozen:
        dropped.append(f'{len(frozen)} frozen CLIP tensors ({", ".join(groups)}; rebuilt from '
                       'the config)')
    if others:
        dropped.append(f'the checkpoint entries {others}')
    return (f'Converted {src}' + (f' (epoch {meta["epoch"]})' if 'epoch' in meta else '') +
            f' into {dst}: {layout.trainer} prompts ({shapes}); '
            f'{len(converted)} tensor{"s" if len(converted) > 1 else ""}, {n_params:,} prompt '
            'parameters, saved in fp32' + (f' (some were {"/".join(low)})' if low else '') +
            (f'. Dropped {"; ".join(dropped)}' if dropped else '') + '.')


def convert_checkpoint_file(src: str,
                            dst: str,
                            method: str = 'auto',
                            force: bool = False) -> List[str]:
    """Convert the reference checkpoint ``src`` into the maple_mm checkpoint ``dst``.

    ``dst`` gets ``{'state_dict': prompts, 'meta': {...}}`` (only the learned
    prompts, in fp32, under maple_mm's names, loadable weights-only), written
    atomically; an existing ``dst`` is kept unless ``force``. Returns the
    report lines: a summary, warnings, and the config that loads it.
    """
    if not osp.isfile(src):
        raise InputNotFoundError(f'Reference checkpoint {src} does not exist.')
    if osp.exists(dst):
        if osp.isdir(dst):
            raise OutputExistsError(f'{dst} is a directory; give the output file name.')
        if osp.samefile(src, dst):
            raise OutputExistsError(f'OUT {dst} is the input file; write the conversion '
                                    'elsewhere.')
        if not force:
            raise OutputExistsError(f'{dst} already exists; nothing was written. Pass --force '
                                    'to overwrite it.')

    checkpoint = load_reference_checkpoint(src)
    requested = method
    method, converted = convert_state_dict(checkpoint['state_dict'], method)
    layout = reference_layout(method)
    info = layout.describe(converted)
    meta = dict(method=method, converted_from=osp.basename(src))
    epoch = checkpoint.get('epoch')
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        meta['epoch'] = int(epoch)
    meta.update(info)
    # What wrote it (maple_mm.provenance): loading it into another method is refused.
    written_by = converted_writer(
        _registered()[method][1], info, src, detected=requested in (None, 'auto'))
    save_torch_atomically({
        'state_dict': dict(converted),
        'meta': dict(meta, written_by=written_by)
    }, dst)

    lines = [conversion_summary(src, dst, checkpoint, method, converted, meta)]
    if checkpoint['_stubbed_globals']:
        lines.append('Pickled objects replaced by inert stubs (nothing was executed): ' +
                     ', '.join(checkpoint['_stubbed_globals']) + '.')
        odd = [
            g for g in checkpoint['_stubbed_globals'] if not g.startswith(_EXPECTED_GLOBAL_PREFIXES)
        ]
        if odd:
            lines.append(f'WARNING: {src} also pickles {odd}, which a genuine reference '
                         'checkpoint does not; they were neutralised, but check where the '
                         'file came from.')
    nonfinite = [k for k, v in converted.items() if not torch.isfinite(v).all()]
    if nonfinite:
        lines.append(f'WARNING: {nonfinite[:4]} hold NaN or Inf values (the reference fp16 '
                     'training diverged); the converted prompts will not work.')
    if info.get('class_specific'):
        lines.append(f'The context is class-specific: the model classifies exactly the '
                     f'{info["num_classes"]} classes it was trained on, in the same order.')
    lines.append(f'Evaluate it with:\n    python tools/test.py CONFIG {dst}\nwhere CONFIG '
                 f'builds the same model:\n    {model_config(method, info)}\n'
                 f'{layout.not_stored} Use the CLIP the reference was trained with '
                 f'({_clip_hint(info)}).')
    return lines
