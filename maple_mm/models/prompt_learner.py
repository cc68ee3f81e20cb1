"""MaPLe's learnable prompts and the class prompts they are spliced into."""
import copy
from typing import List, NamedTuple, Sequence

import torch
from mmpretrain.registry import MODELS
from torch import nn

from .clip import OpenCLIPBackbone

#: Above this many context tokens the reference ignores ``ctx_init`` and
#: starts from random context vectors.
MAX_CTX_FROM_WORDS = 4


class MaPLePrompts(NamedTuple):
    """The prompts of one forward pass, shared by every class and image."""
    text_ctx: torch.Tensor            # (n_ctx, text_width)
    vision_ctx: torch.Tensor          # (n_ctx, vision_width) = proj(text_ctx)
    deep_text: List[torch.Tensor]     # depth - 1 tensors (n_ctx, text_width)
    deep_vision: List[torch.Tensor]   # depth - 1 tensors (n_ctx, vision_width)


def class_prompt(prefix: str, class_name: str) -> str:
    """The prompt sentence of one class: ``"a photo of a dog."``."""
    return f'{prefix} {class_name.replace("_", " ")}.'


@MODELS.register_module()
class MaPLePromptLearner(nn.Module):
    """Learnable text context, deep text prompts and text->vision couplings.

    Args:
        clip: The frozen CLIP; its widths size the prompts and its token
            embedding initialises the context from ``ctx_init``.
        n_ctx: Number of learnable context tokens per layer.
        ctx_init: Phrase whose first ``n_ctx`` word embeddings initialise the
            context (the whole phrase prefixes every class prompt). Empty, or
            ``n_ctx > 4``, gives random init (std 0.02) and an ``"X X"`` prefix.
        depth: Prompt depth J: layers 0 .. J-1 of both towers get prompts.
    """

    def __init__(self,
                 clip: OpenCLIPBackbone,
                 n_ctx: int = 2,
                 ctx_init: str = 'a photo of a',
                 depth: int = 9) -> None:
        super().__init__()
        max_depth = min(clip.num_text_layers, clip.num_vision_layers)
        if not 1 <= depth <= max_depth:
            raise ValueError(f'prompt depth must be in 1..{max_depth} for this CLIP '
                             f'({clip.num_text_layers} text / {clip.num_vision_layers} '
                             f'vision blocks), got {depth}')
        if n_ctx < 1:
            raise ValueError(f'n_ctx must be >= 1, got {n_ctx}')
        self.n_ctx = n_ctx
        self.depth = depth
        text_width, vision_width = clip.text_width, clip.vision_width

        ctx_init = ctx_init.replace('_', ' ').strip()
        if ctx_init and n_ctx <= MAX_CTX_FROM_WORDS:
            words = clip.words(ctx_init)
            if len(words) < n_ctx:
                raise ValueError(f'ctx_init {ctx_init!r} has {len(words)} tokens, fewer '
                                 f'than n_ctx={n_ctx}')
            with torch.no_grad():
                ctx = clip.embed_tokens(torch.tensor(words[:n_ctx])).clone().float()
            self.prompt_prefix = ctx_init
        else:
            ctx = torch.empty(n_ctx, text_width).normal_(std=0.02)
            self.prompt_prefix = ' '.join(['X'] * n_ctx)
        self.ctx = nn.Parameter(ctx)
        self.ctx_proj = nn.Linear(text_width, vision_width)

        self.deep_text_prompts = nn.ParameterList([
            nn.Parameter(torch.empty(n_ctx, text_width).normal_(std=0.02))
            for _ in range(depth - 1)
        ])
        # As in the reference, every deep coupling starts as a copy of one
        # freshly initialised layer.
        first = nn.Linear(text_width, vision_width)
        self.deep_projs = nn.ModuleList([copy.deepcopy(first) for _ in range(depth - 1)])

        self.class_names: List[str] = []
        self.register_buffer('token_ids', torch.empty(0, 0, dtype=torch.long), persistent=False)
        self.register_buffer('prefix_embeddings', torch.empty(0), persistent=False)
        self.register_buffer('suffix_embeddings', torch.empty(0), persistent=False)

    @torch.no_grad()
    def set_class_names(self, class_names: Sequence[str], clip: OpenCLIPBackbone) -> None:
        """Rebuild the fixed SOS and suffix embeddings for ``class_names``."""
        if not class_names:
            raise ValueError('MaPLe needs at least one class name')
        prompts = [class_prompt(self.prompt_prefix, name) for name in class_names]
        device = self.ctx.device
        token_ids = clip.tokenize(prompts).to(device)
        embeddings = clip.embed_tokens(token_ids).to(device)
        self.class_names = list(class_names)
        self.token_ids = token_ids
        self.prefix_embeddings = embeddings[:, :1]
        self.suffix_embeddings = embeddings[:, 1 + self.n_ctx:]

    def require_class_names(self) -> None:
        """Fail clearly when no class names were set."""
        if not self.class_names:
            raise RuntimeError('No class names set: call set_class_names() first '
                               '(the ClassNamesHook does this from the dataset).')

    def class_prompt_embeddings(self, ctx: torch.Tensor) -> torch.Tensor:
        """(C, L, text_width) token embeddings: SOS, ``ctx``, fixed suffix."""
        self.require_class_names()
        num_classes = self.prefix_embeddings.shape[0]
        ctx = ctx.to(self.prefix_embeddings.dtype).unsqueeze(0).expand(num_classes, -1, -1)
        return torch.cat([self.prefix_embeddings, ctx, self.suffix_embeddings], dim=1)

    def forward(self) -> MaPLePrompts:
        """The prompts for this step; vision prompts are projected text prompts."""
        return MaPLePrompts(
            text_ctx=self.ctx,
            vision_ctx=self.ctx_proj(self.ctx),
            deep_text=list(self.deep_text_prompts),
            deep_vision=[proj(p) for proj, p in zip(self.deep_projs, self.deep_text_prompts)],
        )
