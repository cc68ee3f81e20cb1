"""Convert a checkpoint of the reference MaPLe code into a maple_mm checkpoint.

    python tools/model_converters/maple_official_to_mm.py IN OUT [--force]

IN is a file saved by the reference implementation
(github.com/muzairkhattak/multimodal-prompt-learning, Dassl trainer), e.g.
``output/.../MultiModalPromptLearner/model.pth.tar-5``, or a bare state dict of
its model. OUT gets ``{'state_dict': prompts, 'meta': {...}}``: only the learned
prompts, in fp32, under maple_mm's names, loadable with
``torch.load(OUT, weights_only=True)`` and by ``tools/test.py``.

Reading IN never executes pickled code. Reference checkpoints also pickle the
Dassl optimizer / scheduler objects, which ``weights_only`` loading refuses; each
such class or function is then replaced by an inert stub that only holds the
state it is given (nothing of Dassl needs to be installed). Only the
``state_dict`` entry of the checkpoint is used.

Key mapping (reference -> maple_mm)::

    prompt_learner.ctx                           -> prompt_learner.ctx
    prompt_learner.proj.{weight,bias}            -> prompt_learner.ctx_proj.{weight,bias}
    prompt_learner.compound_prompts_text.<i>     -> prompt_learner.deep_text_prompts.<i>
    prompt_learner.compound_prompt_projections.<i>.{weight,bias}
                                                 -> prompt_learner.deep_projs.<i>.{weight,bias}
    prompt_learner.token_prefix / token_suffix   dropped (rebuilt from the class names)
    image_encoder.*, text_encoder.*, logit_scale dropped (frozen CLIP, rebuilt from the config)

The prompt depth J of the config is the number of deep prompts + 1.
"""
import argparse
import os
import os.path as osp
import pickle
import re
import sys
import tempfile
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

REF_PREFIX = 'prompt_learner.'
#: Token embeddings of SOS and of the class-name suffix: rebuilt from the
#: class names of whatever dataset the converted prompts are evaluated on.
DROPPED_BUFFERS = ('prompt_learner.token_prefix', 'prompt_learner.token_suffix')
EXPECTED_KEYS = ('prompt_learner.ctx', 'prompt_learner.proj.weight', 'prompt_learner.proj.bias',
                 'prompt_learner.compound_prompts_text.<i>',
                 'prompt_learner.compound_prompt_projections.<i>.weight|bias')
_DEEP_TEXT = re.compile(r'^prompt_learner\.compound_prompts_text\.(\d+)$')
_DEEP_PROJ = re.compile(r'^prompt_learner\.compound_prompt_projections\.(\d+)\.(weight|bias)$')
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


class ConversionError(ValueError):
    """The input cannot be converted; the message says why and what to do."""


class InputNotFoundError(ConversionError, FileNotFoundError):
    """The reference checkpoint does not exist."""


class OutputExistsError(ConversionError, FileExistsError):
    """The output exists and ``--force`` was not given."""


# -- loading without executing anything ------------------------------------------
class InertStub:
    """Stands in for a class or function pickled in a reference checkpoint.

    It runs nothing: it accepts any constructor arguments and any pickled state
    and only keeps them (``args``, ``kwargs``, ``state``) so they can be looked
    at. ``stub_for`` is the dotted name it replaces.
    """
    stub_for = '?'

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        self.__dict__['args'] = args
        self.__dict__['kwargs'] = kwargs

    def __setstate__(self, state) -> None:
        self.__dict__['state'] = state

    def __repr__(self) -> str:
        return f'<inert stub for {self.stub_for}>'


def _plain_dict(*args, **kwargs) -> dict:
    """Stand-in for ``collections.defaultdict`` / ``dict`` pickled by REDUCE.

    The weights-only unpickler only sets items on plain dicts, and a Dassl
    optimizer pickles its ``state`` as a ``defaultdict(dict)``. The arguments
    (the default factory) are ignored: nothing of them is needed.
    """
    return {}


def _plain_list(*args, **kwargs) -> list:
    """Stand-in for ``list`` pickled by REDUCE (items come by APPENDS)."""
    return []


_CONTAINER_STANDINS = {
    'collections.defaultdict': _plain_dict,
    'builtins.dict': _plain_dict,
    'builtins.list': _plain_list,
}


def make_stub(name: str):
    """An inert stand-in allow-listed under the pickled global ``name``."""
    if name in _CONTAINER_STANDINS:
        return _CONTAINER_STANDINS[name]
    short = name.rsplit('.', 1)[-1]
    return type(f'InertStub_{short}', (InertStub, ), {'stub_for': name, '__module__': __name__})


def _unsafe_globals(path: str) -> List[str]:
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception as err:  # legacy (non-zip) format, torchscript, corrupt file
        raise ConversionError(
            f'{path} cannot be read weights-only and its pickled globals cannot be listed '
            f'({err}). Only files written by torch.save with torch >= 1.6 (zip format) are '
            'supported; re-save the state dict with a recent torch and convert that.') from None


def _load_weights_only(path: str) -> Tuple[object, List[str]]:
    """``torch.load`` weights-only; pickled objects become :class:`InertStub`."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True), []
    except pickle.UnpicklingError as first_err:
        unsafe = _unsafe_globals(path)
        if not unsafe:
            raise ConversionError(f'{path} cannot be loaded weights-only: {first_err}') from None
    except Exception as err:
        raise ConversionError(f'{path} is not a readable torch checkpoint: {err}') from None
    stubs = [(make_stub(name), name) for name in unsafe]
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(path, map_location='cpu', weights_only=True), unsafe
    except Exception as err:
        raise ConversionError(
            f'Refusing to load {path}: even with the pickled objects {unsafe} replaced by '
            f'inert stubs, weights-only loading fails ({err}). Nothing in it was '
            'executed.') from None


def _is_bare_state_dict(obj) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def load_reference_checkpoint(path: str) -> dict:
    """Load a reference MaPLe checkpoint without executing any pickled code.

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
            f'{path} is neither a reference MaPLe checkpoint (a dict with a "state_dict" '
            f'entry) nor a bare state dict of tensors; it holds: {entries}.')
    checkpoint['_stubbed_globals'] = stubbed
    return checkpoint


# -- conversion --------------------------------------------------------------------
def _fp32(key: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ConversionError(f'{key} should be a floating point tensor, got '
                              f'{getattr(value, "dtype", type(value).__name__)}.')
    return value.detach().to(device='cpu', dtype=torch.float32).clone().contiguous()


def _indexed(found: Dict[int, object], what: str) -> List:
    indices = sorted(found)
    if indices != list(range(len(indices))):
        raise ConversionError(f'The {what} are numbered {indices}; expected 0..{len(indices) - 1} '
                              'without gaps.')
    return [found[i] for i in indices]


def convert_state_dict(reference_state_dict: Mapping[str, torch.Tensor]) -> 'OrderedDict':
    """Map the reference model's state dict onto maple_mm's prompt learner.

    Only the learned prompts are kept, as fp32 tensors; the token buffers and
    the frozen CLIP weights are dropped. Raises :class:`ConversionError` when
    the MaPLe prompt keys are missing or their shapes do not fit together.
    """
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                     for k, v in reference_state_dict.items())
    unknown = [k for k in sd if k.startswith(REF_PREFIX) and k not in DROPPED_BUFFERS
               and k not in ('prompt_learner.ctx', 'prompt_learner.proj.weight',
                             'prompt_learner.proj.bias')
               and not _DEEP_TEXT.match(k) and not _DEEP_PROJ.match(k)]
    missing = [k for k in EXPECTED_KEYS[:3] if k not in sd]
    if missing:
        found = [k for k in sd if k.startswith(REF_PREFIX)] or list(sd)
        raise ConversionError(
            'No MaPLe prompt weights found: expected the keys ' + ', '.join(EXPECTED_KEYS)
            + f' of the reference MultiModalPromptLearner, but {", ".join(missing)} '
            f'{"is" if len(missing) == 1 else "are"} missing (the state dict has '
            f'{len(sd)} keys, e.g. {found[:6]}). Is this a checkpoint of another trainer '
            '(CoOp, CoCoOp, IVLP ...)?')
    if unknown:
        raise ConversionError(f'Unexpected prompt learner keys {unknown[:6]}: this is not a plain '
                              'MaPLe checkpoint, so it cannot be converted faithfully.')

    ctx = _fp32('prompt_learner.ctx', sd['prompt_learner.ctx'])
    proj_w = _fp32('prompt_learner.proj.weight', sd['prompt_learner.proj.weight'])
    proj_b = _fp32('prompt_learner.proj.bias', sd['prompt_learner.proj.bias'])
    if ctx.dim() != 2:
        raise ConversionError(f'prompt_learner.ctx should be (n_ctx, text_width), got '
                              f'{tuple(ctx.shape)} (class-specific contexts are not MaPLe).')
    n_ctx, text_width = ctx.shape
    vision_width = proj_w.shape[0]
    if tuple(proj_w.shape) != (vision_width, text_width) or tuple(proj_b.shape) != (vision_width, ):
        raise ConversionError(
            f'prompt_learner.proj is {tuple(proj_w.shape)} + bias {tuple(proj_b.shape)}; it '
            f'should map the text width {text_width} of ctx {tuple(ctx.shape)} to the vision '
            'width: (vision_width, text_width) + (vision_width,).')

    deep_text, deep_proj = {}, {}
    for key, value in sd.items():
        match = _DEEP_TEXT.match(key)
        if match:
            deep_text[int(match.group(1))] = _fp32(key, value)
        match = _DEEP_PROJ.match(key)
        if match:
            deep_proj.setdefault(int(match.group(1)), {})[match.group(2)] = _fp32(key, value)
    texts = _indexed(deep_text, 'deep text prompts (compound_prompts_text)')
    projs = _indexed(deep_proj, 'deep projections (compound_prompt_projections)')
    if len(texts) != len(projs):
        raise ConversionError(
            f'Inconsistent checkpoint: {len(texts)} deep text prompts '
            f'(prompt_learner.compound_prompts_text.*) but {len(projs)} projections '
            '(prompt_learner.compound_prompt_projections.*); MaPLe has one projection per '
            'deep prompt.')

    out = OrderedDict()
    out['prompt_learner.ctx'] = ctx
    out['prompt_learner.ctx_proj.weight'] = proj_w
    out['prompt_learner.ctx_proj.bias'] = proj_b
    for i, prompt in enumerate(texts):
        if tuple(prompt.shape) != (n_ctx, text_width):
            raise ConversionError(
                f'prompt_learner.compound_prompts_text.{i} is {tuple(prompt.shape)}, but ctx is '
                f'{(n_ctx, text_width)}: every deep prompt must have the shape of ctx.')
        out[f'prompt_learner.deep_text_prompts.{i}'] = prompt
    for i, layer in enumerate(projs):
        if set(layer) != {'weight', 'bias'}:
            raise ConversionError(f'prompt_learner.compound_prompt_projections.{i} has only '
                                  f'{sorted(layer)}; it needs weight and bias.')
        if (tuple(layer['weight'].shape) != (vision_width, text_width)
                or tuple(layer['bias'].shape) != (vision_width, )):
            raise ConversionError(
                f'prompt_learner.compound_prompt_projections.{i} is '
                f'{tuple(layer["weight"].shape)} + bias {tuple(layer["bias"].shape)}; '
                f'expected {(vision_width, text_width)} + {(vision_width, )} like proj.')
        out[f'prompt_learner.deep_projs.{i}.weight'] = layer['weight']
        out[f'prompt_learner.deep_projs.{i}.bias'] = layer['bias']
    return out


def describe(converted: Mapping[str, torch.Tensor]) -> dict:
    """n_ctx, prompt depth and widths of a converted state dict."""
    n_ctx, text_width = converted['prompt_learner.ctx'].shape
    depth = 1 + sum(1 for k in converted if k.startswith('prompt_learner.deep_text_prompts.'))
    return dict(n_ctx=int(n_ctx), prompt_depth=int(depth), text_width=int(text_width),
                vision_width=int(converted['prompt_learner.ctx_proj.weight'].shape[0]))


# -- command line ------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a reference MaPLe checkpoint (Dassl, e.g. model.pth.tar-5) into a '
        'maple_mm checkpoint, without executing any pickled code.')
    parser.add_argument('input', metavar='IN', help='reference checkpoint or bare state dict')
    parser.add_argument('output', metavar='OUT', help='maple_mm checkpoint to write')
    parser.add_argument('--force', action='store_true', help='overwrite OUT if it exists')
    return parser.parse_args(argv)


def _save_atomically(obj: dict, path: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.maple_convert_', suffix='.pth', dir=folder)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def main(argv: Optional[List[str]] = None) -> str:
    """Convert IN into OUT and print a summary; returns OUT."""
    args = parse_args(argv)
    src, dst = args.input, args.output
    if not osp.isfile(src):
        raise InputNotFoundError(f'Reference checkpoint {src} does not exist.')
    if osp.exists(dst):
        if osp.isdir(dst):
            raise OutputExistsError(f'{dst} is a directory; give the output file name.')
        if osp.samefile(src, dst):
            raise OutputExistsError(f'OUT {dst} is the input file; write the conversion '
                                    'elsewhere.')
        if not args.force:
            raise OutputExistsError(f'{dst} already exists; nothing was written. Pass --force '
                                    'to overwrite it.')

    checkpoint = load_reference_checkpoint(src)
    reference = checkpoint['state_dict']
    converted = convert_state_dict(reference)
    info = describe(converted)
    meta = dict(converted_from=osp.basename(src), **info)
    epoch = checkpoint.get('epoch')
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        meta['epoch'] = int(epoch)
    _save_atomically({'state_dict': dict(converted), 'meta': meta}, dst)

    keys = [k[len('module.'):] if k.startswith('module.') else k for k in reference]
    buffers = [k for k in keys if k in DROPPED_BUFFERS]
    frozen = [k for k in keys if not k.startswith(REF_PREFIX)]
    groups = sorted({k.split('.', 1)[0] + ('.*' if '.' in k else '') for k in frozen})
    low = sorted({str(v.dtype).replace('torch.', '') for k, v in reference.items()
                  if re.fullmatch(r'(module\.)?prompt_learner\.(ctx|proj\.weight|proj\.bias)', k)
                  and v.dtype != torch.float32})
    others = [k for k in checkpoint if k not in ('state_dict', 'epoch', '_stubbed_globals')]
    n_params = sum(v.numel() for v in converted.values())
    nonfinite = [k for k, v in converted.items() if not torch.isfinite(v).all()]
    depth = info['prompt_depth']
    print(
        f'Converted {src}' + (f' (epoch {meta["epoch"]})' if 'epoch' in meta else '')
        + f' into {dst}: n_ctx={info["n_ctx"]}, prompt depth {depth} '
        f'({depth - 1} deep text prompts + {depth - 1} text->vision projections), text width '
        f'{info["text_width"]}, vision width {info["vision_width"]}; {len(converted)} tensors, '
        f'{n_params:,} prompt parameters, saved in fp32'
        + (f' (ctx and proj were {"/".join(low)})' if low else '')
        + f'. Dropped {len(buffers)} token buffers ({", ".join(buffers) or "none"}; rebuilt from '
        f'the class names), {len(frozen)} frozen CLIP tensors ({", ".join(groups) or "none"}; '
        'rebuilt from the config)'
        + (f' and the checkpoint entries {others}' if others else '') + '.')
    if checkpoint['_stubbed_globals']:
        print('Pickled objects replaced by inert stubs (nothing was executed): '
              + ', '.join(checkpoint['_stubbed_globals']) + '.')
        odd = [g for g in checkpoint['_stubbed_globals']
               if not g.startswith(_EXPECTED_GLOBAL_PREFIXES)]
        if odd:
            print(f'WARNING: {src} also pickles {odd}, which a genuine reference checkpoint does '
                  'not; they were neutralised, but check where the file came from.')
    if nonfinite:
        print(f'WARNING: {nonfinite[:4]} hold NaN or Inf values (the reference fp16 training '
              'diverged); the converted prompts will not work.')
    clip_hint = _CLIP_HINTS.get((info['text_width'], info['vision_width']),
                                'the open_clip ViT with these widths')
    print(f'Evaluate it with:\n    python tools/test.py CONFIG {dst}\n'
          f'where CONFIG builds the same model: prompt_learner n_ctx={info["n_ctx"]} and '
          f'depth={depth} (= number of deep prompts + 1), and the CLIP the reference was '
          f'trained with (text width {info["text_width"]}, vision width '
          f'{info["vision_width"]}: {clip_hint}).')
    return dst


if __name__ == '__main__':
    try:
        main()
    except ConversionError as error:
        if os.environ.get('MAPLE_DEBUG'):
            raise
        sys.exit(f'error: {error}')
