"""Checkpoints of the reference prompt-learning code: every key name they use, and their conversion.

The one place that knows the reference's key names. It reads a file saved by
any trainer of the reference implementations
(github.com/muzairkhattak/multimodal-prompt-learning, muzairkhattak/PromptSRC,
htyao89/KgCoOp; all Dassl), e.g. ``output/.../MultiModalPromptLearner/model.pth.tar-5``
(MaPLe), ``.../VLPromptLearner/model.pth.tar-5`` (IVLP, language-only
prompting, PromptSRC) or ``.../prompt_learner/model.pth.tar-50`` (CoOp, CoCoOp,
VPT, KgCoOp), or a bare state dict of such a model, and maps its learned
prompts onto maple_mm's names (``tools/model_converters/reference_to_mm.py`` is
its command line). The models' and checkpoint loader's hints for such files
use :func:`looks_like_reference` and :data:`REFERENCE_MODULES`.

Reading never executes pickled code. Reference checkpoints also pickle the
Dassl optimizer / scheduler objects, which ``weights_only`` loading refuses; each
such class or function is then replaced by an inert stub that only holds the
state it is given (nothing of Dassl needs to be installed). Only the
``state_dict`` entry of the checkpoint is used.

Key mapping (reference -> maple_mm, every key under ``prompt_learner.``; method)::

    prompt_learner.ctx (CoOp / CoCoOp / KgCoOp files: ctx) -> ctx
    [prompt_learner.]meta_net.linear{1,2}.*  -> meta_net.linear{1,2}.*   CoCoOp
    image_encoder.VPT                        -> vision_ctx               VPT, IVLP, PromptSRC
    image_encoder.transformer.resblocks.<i>.VPT_shallow
                                             -> deep_vision_prompts.<i-1>  VPT, IVLP, PromptSRC
    text_encoder.transformer.resblocks.<i>.VPT_shallow
                                             -> deep_text_prompts.<i-1>  IVLP, language, PromptSRC
    prompt_learner.proj.*                    -> ctx_proj.*               MaPLe
    prompt_learner.compound_prompts_text.<i> -> deep_text_prompts.<i>    MaPLe
    prompt_learner.compound_prompt_projections.<i>.*
                                             -> deep_projs.<i>.*         MaPLe
    token_prefix / token_suffix                    dropped (rebuilt from the class names)
    image_encoder.*, text_encoder.*, logit_scale   dropped (frozen CLIP, rebuilt from the config)
    prompt_learner.ZS_image_encoder.*              dropped (PromptSRC's frozen image tower)
    bias_vectors, meta_net.linear1.*               dropped (KgCoOp creates them, its forward
                                                   never uses them)

PromptSRC saves IVLP's keys and KgCoOp CoOp's (plus the unused weights): when
a state dict lacks the keys that tell them apart (a bare state dict of the
learned prompts), ``method`` names the trainer. A prompt depth is the number
of deep prompts + 1 (the input-level prompts count as the first layer), as the
reference's PROMPT_DEPTH counts it.
"""
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from maple_mm.atomic_files import save_torch_atomically

METHODS = ('coop', 'cocoop', 'vpt', 'ivlp', 'language', 'maple', 'kgcoop', 'promptsrc')
#: maple_mm's model type per method.
MODEL_TYPES = {
    'coop': 'CoOp',
    'cocoop': 'CoCoOp',
    'vpt': 'VPT',
    'ivlp': 'IVLP',
    'language': 'LanguagePrompting',
    'maple': 'MaPLe',
    'kgcoop': 'KgCoOp',
    'promptsrc': 'PromptSRC'
}
#: The reference trainer (TRAINER.NAME) per method.
REFERENCE_TRAINERS = {
    'coop': 'CoOp',
    'cocoop': 'CoCoOp',
    'vpt': 'VPT',
    'ivlp': 'IVLP',
    'language': 'IVLP (language only)',
    'maple': 'MaPLe',
    'kgcoop': 'KgCoOp',
    'promptsrc': 'PromptSRC'
}
PL = 'prompt_learner.'
#: Modules whose objects a reference (Dassl) checkpoint pickles.
REFERENCE_MODULES = ('dassl.', )
#: Keys only the reference code saves (its CustomCLIP, or a bare prompt
#: learner), never maple_mm.
REFERENCE_KEY_PREFIXES = ('prompt_learner.token_', 'prompt_learner.proj.',
                          'prompt_learner.compound_', 'prompt_learner.ZS_image_encoder.',
                          'prompt_learner.bias_vectors', 'image_encoder.', 'text_encoder.',
                          'token_prefix', 'token_suffix', 'meta_net.', 'bias_vectors')

#: Every learned or buffer key of a reference model, by kind (after 'module.'
#: is stripped and CoOp / CoCoOp keys got their 'prompt_learner.' back).
_KINDS = (
    ('ctx', re.compile(r'^prompt_learner\.ctx$')),
    ('buffer', re.compile(r'^prompt_learner\.token_(prefix|suffix)$')),
    ('meta_net', re.compile(r'^prompt_learner\.meta_net\.(linear[12])\.(weight|bias)$')),
    ('proj', re.compile(r'^prompt_learner\.proj\.(weight|bias)$')),
    ('compound_text', re.compile(r'^prompt_learner\.compound_prompts_text\.(\d+)$')),
    ('compound_proj',
     re.compile(r'^prompt_learner\.compound_prompt_projections\.(\d+)\.(weight|bias)$')),
    ('vision_ctx', re.compile(r'^image_encoder\.VPT$')),
    ('deep_vision', re.compile(r'^image_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow$')),
    ('deep_text', re.compile(r'^text_encoder\.transformer\.resblocks\.(\d+)\.VPT_shallow$')),
    ('kg_bias', re.compile(r'^prompt_learner\.bias_vectors$')),
)
#: Kinds each method may hold, and those it must hold.
_ALLOWED = {
    'coop': {'ctx', 'buffer'},
    'cocoop': {'ctx', 'buffer', 'meta_net'},
    'vpt': {'vision_ctx', 'deep_vision'},
    'ivlp': {'ctx', 'buffer', 'vision_ctx', 'deep_vision', 'deep_text'},
    'language': {'ctx', 'buffer', 'deep_text'},
    'maple': {'ctx', 'buffer', 'proj', 'compound_text', 'compound_proj'},
    'kgcoop': {'ctx', 'buffer', 'meta_net', 'kg_bias'},
    'promptsrc': {'ctx', 'buffer', 'vision_ctx', 'deep_vision', 'deep_text'},
}
_REQUIRED = {
    'coop': ['prompt_learner.ctx'],
    'cocoop': ['prompt_learner.ctx'] + [
        f'prompt_learner.meta_net.{layer}.{part}' for layer in ('linear1', 'linear2')
        for part in ('weight', 'bias')
    ],
    'vpt': ['image_encoder.VPT'],
    'ivlp': ['prompt_learner.ctx', 'image_encoder.VPT'],
    'language': ['prompt_learner.ctx'],
    'maple': ['prompt_learner.ctx', 'prompt_learner.proj.weight', 'prompt_learner.proj.bias'],
    'kgcoop': ['prompt_learner.ctx'],
    'promptsrc': ['prompt_learner.ctx', 'image_encoder.VPT'],
}
#: How each method's keys look, for messages.
EXPECTED_KEYS = {
    'coop':
    'ctx (prompt_learner.ctx) [+ token_prefix, token_suffix]',
    'cocoop':
    'ctx, meta_net.linear1.weight|bias, meta_net.linear2.weight|bias '
    '[+ token_prefix, token_suffix] (with or without "prompt_learner.")',
    'vpt':
    'image_encoder.VPT, image_encoder.transformer.resblocks.<i>.VPT_shallow',
    'ivlp':
    'prompt_learner.ctx, image_encoder.VPT, '
    'image_encoder.transformer.resblocks.<i>.VPT_shallow, '
    'text_encoder.transformer.resblocks.<i>.VPT_shallow',
    'language':
    'prompt_learner.ctx, text_encoder.transformer.resblocks.<i>.VPT_shallow',
    'maple':
    'prompt_learner.ctx, prompt_learner.proj.weight, prompt_learner.proj.bias, '
    'prompt_learner.compound_prompts_text.<i>, '
    'prompt_learner.compound_prompt_projections.<i>.weight|bias',
    'kgcoop':
    'ctx [+ bias_vectors, meta_net.linear1.weight|bias, token_prefix, '
    'token_suffix] (with or without "prompt_learner.")',
    'promptsrc':
    'prompt_learner.ctx, image_encoder.VPT, '
    'image_encoder.transformer.resblocks.<i>.VPT_shallow, '
    'text_encoder.transformer.resblocks.<i>.VPT_shallow '
    '[+ prompt_learner.ZS_image_encoder.*]',
}
#: Keys of the frozen CLIP inside a whole saved CustomCLIP: dropped.
_FROZEN_PREFIXES = ('image_encoder.', 'text_encoder.', 'prompt_learner.ZS_image_encoder.')
_FROZEN_KEYS = ('logit_scale', )
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
#: Text-only prompts (CoOp, CoCoOp, KgCoOp) reveal only the text width (and CoCoOp the
#: embedding width): the OpenAI CLIPs that have them.
_TEXT_ONLY_CLIP_HINTS = {
    (512, None): "RN50, RN101, ViT-B-32 or ViT-B-16 with pretrained='openai' (CoOp released "
    'ImageNet prompts for all four; its run folder, e.g. rn50_ep50_16shots, says which)',
    (512, 1024): "RN50 with pretrained='openai'",
    (512, 512): "RN101, ViT-B-32 or ViT-B-16 with pretrained='openai'",
    (640, None): "RN50x4 with pretrained='openai' (288-pixel images)",
    (640, 640): "RN50x4 with pretrained='openai' (288-pixel images)",
}
#: What the checkpoint does not say and the config must repeat, per method.
_NOT_STORED = {
    'coop':
    "ctx_init and class_token_position are not stored: use the reference run's "
    "TRAINER.COOP.CTX_INIT and CLASS_TOKEN_POSITION (defaults '' and 'end'; with "
    'ctx_init, n_ctx is its number of words).',
    'cocoop':
    "ctx_init is not stored: use the reference run's TRAINER.COCOOP.CTX_INIT (its "
    "recipe: ctx_init='a photo of a').",
    'vpt':
    'The text side is the fixed "a photo of a <class>." prompt.',
    'ivlp':
    "ctx_init is not stored: use the reference run's TRAINER.IVLP.CTX_INIT (its "
    "configs and the maple_mm default: 'a photo of a').",
    'language':
    "ctx_init is not stored: use the reference run's TRAINER.IVLP.CTX_INIT (its "
    "configs and the maple_mm default: 'a photo of a').",
    'maple':
    "ctx_init is not stored: use the reference run's TRAINER.MAPLE.CTX_INIT (its "
    "configs and the maple_mm default: 'a photo of a').",
    'kgcoop':
    "ctx_init is not stored: the reference's CTX_INIT: True means 'a photo of a' "
    '(the maple_mm default); KgCoOp always puts the class name at the end.',
    'promptsrc':
    "ctx_init is not stored: use the reference run's TRAINER.PROMPTSRC.CTX_INIT "
    "(its configs and the maple_mm default: 'a photo of a'). The checkpoint "
    'holds the final (GPA-aggregated) prompts.',
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
    its own (CoOp and CoCoOp register only their prompt learner with Dassl, so
    their files hold ``ctx``, ``meta_net.*``, ``token_prefix`` ...).
    """
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                     for k, v in reference_state_dict.items())
    if ('ctx' in sd or 'bias_vectors' in sd) and not any(k.startswith(PL) for k in sd):
        sd = OrderedDict((PL + k, v) for k, v in sd.items())
    return sd


def _kind(key: str) -> Optional[Tuple[str, Tuple[str, ...]]]:
    for kind, pattern in _KINDS:
        match = pattern.match(key)
        if match:
            return kind, match.groups()
    return None


def _is_frozen(key: str) -> bool:
    return key in _FROZEN_KEYS or (key.startswith(_FROZEN_PREFIXES) and 'VPT' not in key)


def _classify(sd: Mapping[str, torch.Tensor]):
    """``({kind: {key: groups}}, frozen keys, unknown keys)``."""
    kinds: Dict[str, Dict[str, Tuple[str, ...]]] = {}
    frozen, unknown = [], []
    for key in sd:
        found = _kind(key)
        if found:
            kinds.setdefault(found[0], {})[key] = found[1]
        elif _is_frozen(key):
            frozen.append(key)
        else:
            unknown.append(key)
    return kinds, frozen, unknown


def detect_method(reference_state_dict: Mapping[str, torch.Tensor]) -> str:
    """The reference trainer that wrote ``reference_state_dict`` (one of :data:`METHODS`).

    A context alone is CoOp, unless the state dict is a whole saved model (it
    holds the frozen CLIP): then it is language-only prompting of text depth 1.
    KgCoOp is told by its unused ``bias_vectors``, PromptSRC by its frozen
    image tower (``prompt_learner.ZS_image_encoder.*``); without them their
    keys are CoOp's and IVLP's.
    """
    sd = normalise_keys(reference_state_dict)
    kinds, frozen, _ = _classify(sd)
    present = set(kinds)
    if 'kg_bias' in present:
        return 'kgcoop'
    if any(k.startswith('prompt_learner.ZS_image_encoder.') for k in frozen):
        return 'promptsrc'
    if present & {'proj', 'compound_text', 'compound_proj'}:
        return 'maple'
    if 'meta_net' in present:
        return 'cocoop'
    if present & {'vision_ctx', 'deep_vision'}:
        return 'ivlp' if present & {'ctx', 'deep_text'} else 'vpt'
    if 'deep_text' in present:
        return 'language'
    if 'ctx' in present:
        return 'language' if frozen else 'coop'
    raise ConversionError('No prompt weights of any reference trainer found: the state dict has '
                          f'{len(sd)} keys, e.g. {list(sd)[:6]}. Expected, per trainer: ' +
                          '; '.join(f'{m}: {keys}' for m, keys in EXPECTED_KEYS.items()) + '.')


# -- conversion --------------------------------------------------------------------
def _fp32(key: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ConversionError(f'{key} should be a floating point tensor, got '
                              f'{getattr(value, "dtype", type(value).__name__)}.')
    return value.detach().to(device='cpu', dtype=torch.float32).clone().contiguous()


def _numbered(found: Dict[int, object], first: int, what: str) -> List:
    indices = sorted(found)
    expected = list(range(first, first + len(indices)))
    if indices != expected:
        raise ConversionError(
            f'The {what} are numbered {indices}; a reference model has them for '
            f'{first}..{first + len(indices) - 1} without gaps, so this state dict is '
            'incomplete or not from the reference code.')
    return [found[i] for i in indices]


def _shape(key: str, value: torch.Tensor, want: Tuple[int, ...], why: str) -> None:
    if tuple(value.shape) != tuple(want):
        raise ConversionError(f'{key} is {tuple(value.shape)}, expected {tuple(want)}: {why}.')


def _deep_prompts(sd, keys: Dict[str, Tuple[str, ...]], first: int, what: str,
                  want: Tuple[int, ...], like: str) -> List[torch.Tensor]:
    """Deep prompts numbered ``first``.. , each of shape ``want``."""
    found = {int(groups[0]): key for key, groups in keys.items()}
    prompts = []
    for key in _numbered(found, first, what):
        value = _fp32(key, sd[key])
        _shape(key, value, want, f'each of the {what} has the shape of {like}')
        prompts.append(value)
    return prompts


def _linear(sd,
            name: str,
            out_in: Optional[Tuple[int, int]] = None,
            why: str = '') -> Tuple[torch.Tensor, torch.Tensor]:
    missing = [f'{name}.{part}' for part in ('weight', 'bias') if f'{name}.{part}' not in sd]
    if missing:
        raise ConversionError(f'{", ".join(missing)} missing: the Linear layer {name} needs '
                              'weight and bias.')
    weight = _fp32(name + '.weight', sd[name + '.weight'])
    bias = _fp32(name + '.bias', sd[name + '.bias'])
    if weight.dim() != 2:
        raise ConversionError(f'{name}.weight is {tuple(weight.shape)}; a Linear weight is '
                              '(out_features, in_features).')
    out_in = out_in or tuple(weight.shape)
    if tuple(weight.shape) != tuple(out_in) or tuple(bias.shape) != (out_in[0], ):
        raise ConversionError(
            f'{name} is {tuple(weight.shape)} + bias {tuple(bias.shape)}; expected '
            f'{tuple(out_in)} + ({out_in[0]},){": " + why if why else ""}.')
    return weight, bias


def _context(sd, allow_class_specific: bool = False) -> torch.Tensor:
    ctx = _fp32(PL + 'ctx', sd[PL + 'ctx'])
    if ctx.dim() == 3 and allow_class_specific:
        return ctx
    if ctx.dim() != 2:
        raise ConversionError(
            f'prompt_learner.ctx is {tuple(ctx.shape)}; expected (n_ctx, text_width)' +
            (' or (num_classes, n_ctx, text_width)'
             if allow_class_specific else ' (only CoOp has class-specific contexts)') + '.')
    return ctx


def _vision(sd, kinds, out: 'OrderedDict') -> None:
    vision_ctx = _fp32('image_encoder.VPT', sd['image_encoder.VPT'])
    if vision_ctx.dim() != 2:
        raise ConversionError(f'image_encoder.VPT is {tuple(vision_ctx.shape)}; expected '
                              '(n_ctx_vision, vision_width).')
    out[PL + 'vision_ctx'] = vision_ctx
    deep = _deep_prompts(
        sd, kinds.get('deep_vision', {}), 1,
        'deep vision prompts (image_encoder.transformer.resblocks.<i>.'
        'VPT_shallow)', tuple(vision_ctx.shape), 'image_encoder.VPT')
    for i, prompt in enumerate(deep):
        out[f'{PL}deep_vision_prompts.{i}'] = prompt


def _deep_text(sd, kinds, ctx: torch.Tensor, out: 'OrderedDict') -> None:
    deep = _deep_prompts(
        sd, kinds.get('deep_text', {}), 1,
        'deep text prompts (text_encoder.transformer.resblocks.<i>.'
        'VPT_shallow)', tuple(ctx.shape), 'prompt_learner.ctx')
    for i, prompt in enumerate(deep):
        out[f'{PL}deep_text_prompts.{i}'] = prompt


def _convert_maple(sd, kinds, out: 'OrderedDict') -> None:
    ctx = out[PL + 'ctx'] = _context(sd)
    n_ctx, text_width = ctx.shape
    proj_w, proj_b = _linear(sd, PL + 'proj')
    if proj_w.shape[1] != text_width:
        raise ConversionError(
            f'prompt_learner.proj is {tuple(proj_w.shape)} + bias {tuple(proj_b.shape)}; it '
            f'should map the text width {text_width} of ctx {tuple(ctx.shape)} to the vision '
            'width: (vision_width, text_width) + (vision_width,).')
    vision_width = proj_w.shape[0]
    out[PL + 'ctx_proj.weight'], out[PL + 'ctx_proj.bias'] = proj_w, proj_b
    texts = _deep_prompts(sd, kinds.get('compound_text', {}), 0,
                          'deep text prompts (prompt_learner.compound_prompts_text.<i>)',
                          (n_ctx, text_width), 'prompt_learner.ctx')
    layers = {int(groups[0]) for groups in kinds.get('compound_proj', {}).values()}
    _numbered({i: i
               for i in layers}, 0,
              'deep projections (prompt_learner.compound_prompt_projections.<i>)')
    if len(texts) != len(layers):
        raise ConversionError(
            f'Inconsistent checkpoint: {len(texts)} deep text prompts '
            f'(prompt_learner.compound_prompts_text.*) but {len(layers)} projections '
            '(prompt_learner.compound_prompt_projections.*); MaPLe has one projection per '
            'deep prompt.')
    for i, prompt in enumerate(texts):
        out[f'{PL}deep_text_prompts.{i}'] = prompt
    for i in range(len(texts)):
        weight, bias = _linear(sd, f'{PL}compound_prompt_projections.{i}',
                               (vision_width, text_width), 'like prompt_learner.proj')
        out[f'{PL}deep_projs.{i}.weight'], out[f'{PL}deep_projs.{i}.bias'] = weight, bias


def _convert_cocoop(sd, out: 'OrderedDict') -> None:
    ctx = out[PL + 'ctx'] = _context(sd)
    w1, b1 = _linear(sd, PL + 'meta_net.linear1')
    w2, b2 = _linear(
        sd, PL + 'meta_net.linear2', (ctx.shape[1], w1.shape[0]),
        f'the meta-net maps its hidden width {w1.shape[0]} to the text width '
        f'{ctx.shape[1]} of ctx')
    for name, value in (('linear1.weight', w1), ('linear1.bias', b1), ('linear2.weight', w2),
                        ('linear2.bias', b2)):
        out[f'{PL}meta_net.{name}'] = value


def _check_kgcoop_unused(sd, kinds) -> None:
    """KgCoOp's meta-net is one Linear (linear1) its forward never uses; a linear2 is CoCoOp's."""
    layers = {groups[0] for groups in kinds.get('meta_net', {}).values()}
    if 'linear2' in layers:
        raise ConversionError('Not a checkpoint of the reference KgCoOp trainer: it holds '
                              'meta_net.linear2.*, which only CoCoOp has (--method cocoop).')


def convert_state_dict(reference_state_dict: Mapping[str, torch.Tensor],
                       method: Optional[str] = None) -> Tuple[str, 'OrderedDict']:
    """Map a reference model's state dict onto maple_mm's prompt learner.

    Args:
        reference_state_dict: The ``state_dict`` of a reference checkpoint (as
            Dassl saves it: CoOp / CoCoOp keys without ``prompt_learner.``), or
            the reference ``CustomCLIP.state_dict()``.
        method: One of :data:`METHODS`; None (or 'auto') detects it from the keys.

    Returns:
        ``(method, state dict)``: only the learned prompts, as fp32 tensors
        under maple_mm's names; token buffers and the frozen CLIP are dropped.

    Raises:
        ConversionError: Unknown keys, keys of another method, missing or
            misnumbered prompts, or shapes that do not fit together.
    """
    sd = normalise_keys(reference_state_dict)
    if method in (None, 'auto'):
        method = detect_method(sd)
    if method not in METHODS:
        raise ConversionError(f'Unknown method {method!r}; choose one of {", ".join(METHODS)} '
                              "or 'auto'.")
    kinds, _, unknown = _classify(sd)
    if unknown:
        raise ConversionError(
            f'Unknown keys {unknown[:6]}: no reference trainer saves them, so the checkpoint '
            f'cannot be converted faithfully. A {REFERENCE_TRAINERS[method]} checkpoint holds '
            f'{EXPECTED_KEYS[method]} and possibly the frozen CLIP (image_encoder.*, '
            'text_encoder.*, logit_scale).')
    foreign = sorted(key for kind, keys in kinds.items() if kind not in _ALLOWED[method]
                     for key in keys)
    missing = [key for key in _REQUIRED[method] if key not in sd]
    if foreign or missing:
        guess = ''
        try:
            detected = detect_method(sd)
            if detected != method:
                guess = (f' It looks like a checkpoint of the {REFERENCE_TRAINERS[detected]} '
                         f'trainer (--method {detected}).')
        except ConversionError:
            pass
        raise ConversionError(
            f'Not a checkpoint of the reference {REFERENCE_TRAINERS[method]} trainer: expected '
            'the keys '
            f'{EXPECTED_KEYS[method]}, but ' +
            (f'{", ".join(missing)} {"is" if len(missing) == 1 else "are"} missing'
             if missing else '') + (' and ' if missing and foreign else '') +
            (f'it also holds {foreign[:6]}, which this trainer does not have' if foreign else '') +
            f' (the state dict has {len(sd)} keys, e.g. {list(sd)[:6]}).{guess}')

    out = OrderedDict()
    if method in ('coop', 'kgcoop'):
        if method == 'kgcoop':
            _check_kgcoop_unused(sd, kinds)
        out[PL + 'ctx'] = _context(sd, allow_class_specific=True)
    elif method == 'cocoop':
        _convert_cocoop(sd, out)
    elif method == 'vpt':
        _vision(sd, kinds, out)
    elif method in ('ivlp', 'language', 'promptsrc'):
        ctx = out[PL + 'ctx'] = _context(sd)
        _deep_text(sd, kinds, ctx, out)
        if method != 'language':
            _vision(sd, kinds, out)
    else:
        _convert_maple(sd, kinds, out)
    return method, out


def describe(method: str, converted: Mapping[str, torch.Tensor]) -> dict:
    """The prompt learner arguments and CLIP widths a converted state dict fits.

    The first entries are the learner's config arguments (``n_ctx``, depths,
    ``class_specific`` ...), then ``text_width`` / ``vision_width`` /
    ``embed_dim`` as far as the prompts reveal them.
    """

    def count(prefix: str) -> int:
        return sum(1 for k in converted if k.startswith(PL + prefix) and not k.endswith('.bias'))

    ctx = converted.get(PL + 'ctx')
    if method in ('coop', 'kgcoop'):
        info = dict(n_ctx=int(ctx.shape[-2]), class_specific=ctx.dim() == 3)
        if ctx.dim() == 3:
            info['num_classes'] = int(ctx.shape[0])
        return dict(info, text_width=int(ctx.shape[-1]))
    if method == 'cocoop':
        return dict(
            n_ctx=int(ctx.shape[0]),
            text_width=int(ctx.shape[1]),
            embed_dim=int(converted[PL + 'meta_net.linear1.weight'].shape[1]))
    vision = converted.get(PL + 'vision_ctx')
    if method == 'vpt':
        return dict(
            n_ctx=int(vision.shape[0]),
            depth=1 + count('deep_vision_prompts.'),
            vision_width=int(vision.shape[1]))
    if method in ('ivlp', 'promptsrc'):
        return dict(
            n_ctx_text=int(ctx.shape[0]),
            n_ctx_vision=int(vision.shape[0]),
            depth_text=1 + count('deep_text_prompts.'),
            depth_vision=1 + count('deep_vision_prompts.'),
            text_width=int(ctx.shape[1]),
            vision_width=int(vision.shape[1]))
    if method == 'language':
        return dict(
            n_ctx=int(ctx.shape[0]),
            depth=1 + count('deep_text_prompts.'),
            text_width=int(ctx.shape[1]))
    if method == 'maple':
        return dict(
            n_ctx=int(ctx.shape[0]),
            depth=1 + count('deep_text_prompts.'),
            text_width=int(ctx.shape[1]),
            vision_width=int(converted[PL + 'ctx_proj.weight'].shape[0]))
    raise ConversionError(f'Unknown method {method!r}; choose one of {", ".join(METHODS)}.')


_WIDTHS = ('text_width', 'vision_width', 'embed_dim')


def model_config(method: str, info: Mapping) -> str:
    """The ``model=dict(...)`` entries a config needs to load the converted prompts."""
    args = ', '.join(f'{k}={v!r}' for k, v in info.items() if k not in _WIDTHS)
    return f"model=dict(type='{MODEL_TYPES[method]}', prompt_learner=dict({args}))"


def _clip_hint(info: Mapping, run: Mapping) -> str:
    text, vision = info.get('text_width'), info.get('vision_width')
    widths = ', '.join(f'{k.replace("_", " ")} {v}' for k, v in info.items() if k in _WIDTHS)
    if run.get('clip'):
        return (f"{run['clip']} with pretrained='openai': its run folder {run['folder']} says "
                f'so; {widths}')
    if vision is None and (text, info.get('embed_dim')) in _TEXT_ONLY_CLIP_HINTS:
        return f'{widths}: {_TEXT_ONLY_CLIP_HINTS[text, info.get("embed_dim")]}'
    for (hint_text, hint_vision), hint in _CLIP_HINTS.items():
        if text in (None, hint_text) and vision in (None, hint_vision):
            return f'{widths}: {hint}'
    return f'{widths}: the open_clip ViT with these widths'


# -- what a reference run's folders say (CoOp's output layout) ----------------------------
#: CoOp's yaml names of the CLIPs (configs/trainers/CoOp/<clip>*.yaml), as open_clip names them.
COOP_CLIPS = {'rn50': 'RN50', 'rn101': 'RN101', 'vit_b32': 'ViT-B-32', 'vit_b16': 'ViT-B-16'}
#: scripts/coop/main.sh writes output/<dataset>/CoOp/<yaml>_<K>shots/nctx<M>_csc<CSC>_ctp<CTP>/
#: seed<S>/prompt_learner/model.pth.tar-<epoch>, the layout of CoOp's released ImageNet prompts.
_COOP_RUN = re.compile(r'^(rn50|rn101|vit_b32|vit_b16)(?:_\w+?)?_(\d+)shots$')
_COOP_PROMPTS = re.compile(r'^nctx(\d+)_csc(True|False)_ctp(end|middle|front)$')


def run_folder_settings(path: str) -> dict:
    """What the folders of a reference checkpoint say about its run, {} if nothing.

    CoOp's layout (``.../rn50_ep50_16shots/nctx16_cscFalse_ctpend/seed1/prompt_learner/
    model.pth.tar-50``) names the CLIP, the shots, the context length, whether it is
    class-specific and where the class name goes: what the prompts alone do not say.
    """
    parts = osp.normpath(osp.abspath(path)).split(osp.sep)
    for run, prompts in zip(parts, parts[1:]):
        found, settings = _COOP_RUN.match(run), _COOP_PROMPTS.match(prompts)
        if found and settings:
            return dict(
                folder=f'{run}/{prompts}',
                clip=COOP_CLIPS[found[1]],
                shots=int(found[2]),
                n_ctx=int(settings[1]),
                class_specific=settings[2] == 'True',
                class_token_position=settings[3])
    return {}


def _run_folder_lines(method: str, info: Mapping, run: Mapping) -> List[str]:
    """Warnings where the prompts contradict their run folder."""
    if not run or method not in ('coop', 'kgcoop', 'cocoop'):
        return []
    lines = []
    if info.get('n_ctx') != run['n_ctx']:
        lines.append(f"WARNING: the run folder {run['folder']} says {run['n_ctx']} context "
                     f"vectors, the prompts hold {info.get('n_ctx')}.")
    if bool(info.get('class_specific')) != run['class_specific']:
        lines.append(f"WARNING: the run folder {run['folder']} says csc{run['class_specific']}, "
                     f"the prompts are {'' if info.get('class_specific') else 'not '}"
                     'class-specific.')
    return lines


# -- one file into another ------------------------------------------------------------
def conversion_summary(src: str, dst: str, checkpoint: dict, method: str, converted, meta) -> str:
    """One paragraph: what was converted into what, and what was dropped."""
    reference = normalise_keys(checkpoint['state_dict'])
    kinds, frozen, _ = _classify(reference)
    buffers = sorted(kinds.get('buffer', {}))
    unused = sorted(k for kind in ('kg_bias', 'meta_net') for k in kinds.get(kind, {})) \
        if method == 'kgcoop' else []
    groups = sorted({k.split('.', 1)[0] + ('.*' if '.' in k else '') for k in frozen})
    low = sorted({
        str(reference[k].dtype).replace('torch.', '')
        for kind, keys in kinds.items() if kind != 'buffer' for k in keys
        if k not in unused and reference[k].dtype != torch.float32
    })
    others = [k for k in checkpoint if k not in ('state_dict', 'epoch', '_stubbed_globals')]
    n_params = sum(v.numel() for v in converted.values())
    shapes = ', '.join(f'{k}={v}' for k, v in meta.items()
                       if k not in ('method', 'converted_from', 'epoch'))
    dropped = []
    if buffers:
        dropped.append(f'the token buffers {", ".join(buffers)} (rebuilt from the class names)')
    if unused:
        dropped.append(f'{", ".join(unused)} (created but never used by the reference forward)')
    if frozen:
        dropped.append(f'{len(frozen)} frozen CLIP tensors ({", ".join(groups)}; rebuilt from '
                       'the config)')
    if others:
        dropped.append(f'the checkpoint entries {others}')
    return (f'Converted {src}' + (f' (epoch {meta["epoch"]})' if 'epoch' in meta else '') +
            f' into {dst}: {REFERENCE_TRAINERS[method]} prompts ({shapes}); '
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
    method, converted = convert_state_dict(checkpoint['state_dict'], method)
    info = describe(method, converted)
    run = run_folder_settings(src)
    meta = dict(method=method, converted_from=osp.basename(src))
    if run.get('clip'):
        meta['clip'] = run['clip']
    epoch = checkpoint.get('epoch')
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        meta['epoch'] = int(epoch)
    meta.update(info)
    save_torch_atomically({'state_dict': dict(converted), 'meta': meta}, dst)

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
    lines += _run_folder_lines(method, info, run)
    printed = dict(info)
    if method == 'coop' and run.get('class_token_position', 'end') != 'end':
        printed['class_token_position'] = run['class_token_position']
    lines.append(f'Evaluate it with:\n    python tools/test.py CONFIG {dst}\nwhere CONFIG '
                 f'builds the same model:\n    {model_config(method, printed)}\n'
                 f'{_NOT_STORED[method]} Use the CLIP the reference was trained with '
                 f'({_clip_hint(info, run)}).')
    return lines


def looks_like_reference(keys) -> bool:
    """Whether state-dict ``keys`` (without the model prefix) are the reference code's."""
    return any(k.startswith(REFERENCE_KEY_PREFIXES) or k in ('ctx', 'logit_scale') for k in keys)
