"""A frozen open_clip CLIP (ViT or ModifiedResNet image tower), built by name, pretrained tag or
local file."""
import os
from typing import List, Optional, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from open_clip.transformer import VisionTransformer
from torch import nn

from maple_mm.errors import ClassNameError, CLIPBuildError, ConfigError

#: A CLIP small enough for unit tests and CI (about 2M parameters, mostly the
#: token embedding). Same structure as ViT-B/16: pre-LN ViT, causal text
#: transformer with argmax (EOT) pooling, OpenAI BPE vocabulary.
TINY_CLIP_CFG = dict(
    embed_dim=32,
    quick_gelu=True,
    vision_cfg=dict(image_size=32, patch_size=8, width=48, layers=4, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=4),
)
#: The same text tower with a ModifiedResNet image tower (``layers`` a tuple: open_clip's
#: RN50 / RN101 structure: 3-conv stem, bottleneck stages, attention pooling), for the
#: methods that prompt only the text on a ResNet CLIP.
TINY_RESNET_CLIP_CFG = dict(
    embed_dim=32,
    quick_gelu=True,
    vision_cfg=dict(image_size=32, layers=(1, 1, 1, 1), width=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=4),
)


def _quick_gelu_for(model_name: str, pretrained: Optional[str]) -> bool:
    """QuickGELU is what a pretrained tag was trained with (True for OpenAI)."""
    if model_name.endswith('-quickgelu') or not pretrained or os.path.isfile(pretrained):
        return False
    return bool(open_clip.get_pretrained_cfg(model_name, pretrained).get('quick_gelu', False))


def build_open_clip(model_name: str = 'ViT-B-16',
                    pretrained: Optional[str] = None,
                    quick_gelu: Optional[bool] = None,
                    model_cfg: Optional[dict] = None,
                    init_seed: int = 0,
                    cache_dir: Optional[str] = None) -> open_clip.CLIP:
    """Build an open_clip CLIP in fp32 on the CPU.

    Args:
        model_name: An open_clip architecture name, e.g. ``ViT-B-16``.
        pretrained: An open_clip pretrained tag (``openai``, ``laion2b_s34b_b88k``
            ...), a local checkpoint file, or None for random weights.
        quick_gelu: Use QuickGELU. None picks what the pretrained tag needs
            (OpenAI weights need it); set it explicitly for local files.
        model_cfg: Build ``open_clip.CLIP(**model_cfg)`` instead of a named
            architecture (used for tiny test models).
        init_seed: Seed of the random initialisation, so that a randomly
            initialised CLIP is the same in every process and every run.
        cache_dir: Where open_clip caches downloaded weights.
    """
    if pretrained and (pretrained.endswith(('.pt', '.pth', '.bin', '.safetensors'))
                       or os.sep in pretrained) and not os.path.isfile(pretrained):
        raise CLIPBuildError(
            f'CLIP checkpoint file {pretrained!r} does not exist. Give an existing '
            'file or an open_clip pretrained tag such as "openai".')
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if model_cfg is not None:
            model = open_clip.CLIP(**model_cfg)
            if pretrained:
                open_clip.load_checkpoint(model, pretrained)
        else:
            if model_name not in open_clip.list_models():
                raise CLIPBuildError(
                    f'Unknown open_clip model {model_name!r}. OpenAI CLIPs: RN50, RN101, RN50x4, '
                    'ViT-B-32, ViT-B-16, ViT-L-14 (open_clip.list_models() lists all).')
            if quick_gelu is None:
                quick_gelu = _quick_gelu_for(model_name, pretrained)
            weights = pretrained
            if pretrained and not os.path.isfile(pretrained):
                weights = _pretrained_weights_file(model_name, pretrained, cache_dir)
            model = open_clip.create_model(
                model_name,
                pretrained=weights,
                force_quick_gelu=quick_gelu,
                cache_dir=cache_dir,
                weights_only=True)
    check_text_tower(model, model_name)
    if has_vision_tokens(model):  # a ViT: this open_clip must have what the prompts splice
        problem = vision_token_problem(model, model_name)
        if problem:
            raise CLIPBuildError(problem[0].upper() + problem[1:] + '.')
    return model.float().eval()


def _pretrained_weights_file(model_name: str, tag: str, cache_dir: Optional[str]) -> str:
    """The local file of an open_clip pretrained tag, downloaded into the cache if needed.

    The tag is checked against open_clip's list first, and the download is done
    here, so that each failure gets its own clear error.
    """
    if not open_clip.is_pretrained_cfg(model_name, tag):
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise CLIPBuildError(
            f'{model_name!r} has no pretrained tag {tag!r}; known tags: '
            f'{", ".join(tags) or "none"}. A local checkpoint file path also works.')
    offline = CLIPBuildError(
        f'Cannot download the {model_name} weights of pretrained tag {tag!r}: the hub is '
        f'unreachable (offline?). Use a local file instead, pretrained=/path/to/{model_name}.pt '
        '(an open_clip or OpenAI checkpoint), or pretrained=None for random weights.')
    try:
        path = open_clip.download_pretrained(
            open_clip.get_pretrained_cfg(model_name, tag), cache_dir=cache_dir)
    except Exception as err:  # noqa: BLE001  whatever the hub client raises
        raise offline from err
    if not path or not os.path.isfile(path):
        raise offline
    return path


def check_text_tower(model: nn.Module, model_name: str = 'CLIP') -> None:
    """Refuse CLIPs without open_clip's own text transformer (every method prompts its tokens)."""
    if not hasattr(model, 'transformer') or not hasattr(model, 'token_embedding'):
        raise CLIPBuildError(
            f'{model_name} has a custom (e.g. Hugging Face) text tower; the prompting methods '
            "need open_clip's own text transformer. Use an OpenAI-style CLIP such as ViT-B-16 "
            'or RN50.')


def _called(model_name: str) -> str:
    """How messages name a CLIP (one built from a model_cfg is 'custom')."""
    return 'this CLIP' if model_name == 'custom' else model_name


def has_vision_tokens(model: nn.Module) -> bool:
    """Whether the image tower is a Vision Transformer, whose token sequence takes prompts.

    A ModifiedResNet (RN50, RN101, RN50x4 ...) has none: it runs as open_clip runs it.
    """
    return isinstance(getattr(model, 'visual', None), VisionTransformer)


def vision_token_problem(model: nn.Module, model_name: str = 'custom') -> Optional[str]:
    """Why vision prompts cannot be added to ``model``'s image tower (None: they can)."""
    if not has_vision_tokens(model):
        kind = type(getattr(model, 'visual', None)).__name__
        return (f'{_called(model_name)} has a {kind} image tower, which has no token sequence '
                'to add vision prompt tokens to')
    missing = [name for name in ('_embeds', '_pool') if not hasattr(model.visual, name)]
    if missing:
        return (f'this open_clip ({open_clip.__version__}) has no VisionTransformer.'
                f'{missing[0]}, which the vision prompts are spliced around (install the '
                'open_clip_torch of requirements.txt; setup.py gives the tested range)')
    return None


@MODELS.register_module()
class OpenCLIPBackbone(BaseModule):
    """A frozen open_clip CLIP: the towers the prompting methods drive.

    The CLIP is never trained: every parameter has ``requires_grad=False`` and
    the module stays in eval mode. As an mmpretrain backbone, ``forward``
    returns the CLIP image features, so
    ``ImageClassifier(backbone=OpenCLIPBackbone(...), head=LinearClsHead(...))``
    is a linear probe of CLIP. Arguments are those of :func:`build_open_clip`,
    and ``normalize``: L2-normalise the image features ``forward`` returns.

    The image tower is a Vision Transformer (ViT-B-16 ...) or a ModifiedResNet
    (RN50, RN101, RN50x4 ...); only the former takes vision prompts
    (:attr:`has_vision_tokens`), so the methods that add them need a ViT.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = None,
                 quick_gelu: Optional[bool] = None,
                 model_cfg: Optional[dict] = None,
                 init_seed: int = 0,
                 cache_dir: Optional[str] = None,
                 normalize: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.normalize = normalize
        self.model_name = model_name if model_cfg is None else 'custom'
        self.pretrained = pretrained
        self.clip = build_open_clip(model_name, pretrained, quick_gelu, model_cfg, init_seed,
                                    cache_dir)
        self.clip.requires_grad_(False)
        self.tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=self.context_length)

    def init_weights(self) -> None:
        """Weights come from open_clip; mmengine's initialisers must not touch them."""

    def train(self, mode: bool = True) -> 'OpenCLIPBackbone':
        """Keep the frozen CLIP in eval mode whatever the classifier's mode."""
        super().train(False)
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor]:
        """``(image features,)`` (B, embed_dim), as mmpretrain backbones return a tuple."""
        features = self.clip.encode_image(images)
        return (F.normalize(features, dim=-1) if self.normalize else features, )

    @property
    def embed_dim(self) -> int:
        """Width of the joint image-text feature space (512 for ViT-B/16)."""
        return int(self.clip.visual.output_dim)

    @property
    def text_width(self) -> int:
        return self.clip.transformer.width

    @property
    def has_vision_tokens(self) -> bool:
        """Whether the image tower takes vision prompt tokens (a ViT; not a ModifiedResNet)."""
        return vision_token_problem(self.clip) is None

    def require_vision_tokens(self, what: str = 'Vision prompts') -> None:
        """Raise :class:`CLIPBuildError` unless the image tower takes vision prompt tokens."""
        problem = vision_token_problem(self.clip, self.model_name)
        if problem:
            raise CLIPBuildError(f'{what} need a Vision Transformer image tower: {problem}. '
                                 'Use a ViT CLIP such as ViT-B-16.')

    @property
    def vision_width(self) -> int:
        """Width of the image tower's tokens (ViT only)."""
        self.require_vision_tokens()
        return self.clip.visual.transformer.width

    @property
    def num_text_layers(self) -> int:
        return len(self.clip.transformer.resblocks)

    @property
    def num_vision_layers(self) -> int:
        """Blocks of the image tower's transformer (ViT only)."""
        self.require_vision_tokens()
        return len(self.clip.visual.transformer.resblocks)

    @property
    def image_size(self) -> Tuple[int, int]:
        """(height, width) of the images the tower is built for (its positional embeddings)."""
        size = self.clip.visual.image_size
        return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))

    def check_image_size(self, images: torch.Tensor) -> None:
        """Refuse images of another size than the tower's, in one line that says the fix."""
        got = tuple(images.shape[-2:])
        if got != self.image_size:
            raise ConfigError(
                f'The images are {got[0]}x{got[1]} pixels, but {_called(self.model_name)} takes '
                f'{self.image_size[0]}x{self.image_size[1]} (its positional embeddings are '
                f'sized for them): set the pipelines\' RandomResizedCrop scale, ResizeEdge '
                f'scale and CenterCrop crop_size to {self.image_size[0]}.')

    @property
    def context_length(self) -> int:
        return int(self.clip.context_length)

    @property
    def logit_scale(self) -> torch.Tensor:
        """exp(logit_scale): 100 for OpenAI CLIP; frozen."""
        return self.clip.logit_scale.detach().exp()

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids (N, context_length), SOT ... EOT then zero padding."""
        too_long = [t for t in texts if len(self.tokenizer.encode(t)) + 2 > self.context_length]
        if too_long:
            raise ClassNameError(
                f'The prompt {too_long[0][:80]!r}... is '
                f'{len(self.tokenizer.encode(too_long[0])) + 2} '
                f'tokens, longer than the text context of {self.context_length}: shorten '
                'that class name.')
        return self.tokenizer(list(texts))

    def embed_tokens(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings (N, L, text_width), without positional embedding."""
        weight = self.clip.token_embedding.weight
        return self.clip.token_embedding(token_ids.to(weight.device)).to(weight.dtype)

    def words(self, text: str) -> List[int]:
        """BPE ids of ``text`` without SOT/EOT."""
        return self.tokenizer.encode(text)
