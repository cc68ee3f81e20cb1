"""The tokenised class prompts of one class set, and where learned context goes in them.

Every method builds one sentence per class (``"a photo of a dog."``,
``"X X X X dog."``, a zero-shot template ...). Its token ids and token
embeddings are fixed; methods that learn a text context replace the
embeddings at some positions (``ctx_positions``) by learned vectors. The
positions are usually ``1 .. n`` right after SOS; CoOp can put the class name
before or around the context, which only changes the positions.
"""
import hashlib
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

from .clip import OpenCLIPBackbone


@dataclass
class ClassPrompts:
    """Token ids (C, L), token embeddings (C, L, D) and learned-context slots (C, n).

    ``embeddings`` may be None for prompt sets that are encoded rarely (the
    frozen CLIP's template sets): they are then embedded when encoded, so many
    templates of a large class set never hold their embeddings at once.

    ``key`` identifies the prompt set (a digest of its token ids and context
    slots, computed once when it is built): text layouts and cached features
    are keyed on it, so two prompt sets never share an entry.
    """

    token_ids: torch.Tensor
    embeddings: Optional[torch.Tensor]
    ctx_positions: Optional[torch.Tensor] = None
    key: bytes = b''

    def __post_init__(self) -> None:
        if not self.key:
            self.key = prompt_set_key(self.token_ids, self.ctx_positions)

    def to(self, fn) -> 'ClassPrompts':
        """Apply a tensor function (device or dtype move) to every tensor."""
        return ClassPrompts(
            fn(self.token_ids),
            None if self.embeddings is None else fn(self.embeddings),
            None if self.ctx_positions is None else fn(self.ctx_positions),
            key=self.key)


def prompt_set_key(token_ids: torch.Tensor, ctx_positions: Optional[torch.Tensor]) -> bytes:
    """A digest of what a prompt set's layout and frozen features depend on."""
    digest = hashlib.sha256()
    for tensor in (token_ids, ctx_positions):
        if tensor is not None:
            array = tensor.detach().to('cpu', torch.int64).contiguous().numpy()
            digest.update(repr(array.shape).encode())
            digest.update(array.tobytes())
        digest.update(b'|')
    return digest.digest()


def class_sentence(prefix: str, class_name: str) -> str:
    """``"<prefix> <class name>."`` with underscores as spaces: ``"a photo of a dog."``."""
    return f'{prefix} {class_name.replace("_", " ")}.'


@torch.no_grad()
def tokenize_prompts(clip: OpenCLIPBackbone,
                     sentences: Sequence[str],
                     n_ctx: int = 0,
                     embed: bool = True) -> ClassPrompts:
    """Prompts whose learned context, if any, fills token positions ``1 .. n_ctx``.

    ``embed=False`` leaves the embeddings to be computed when encoded.
    """
    token_ids = clip.tokenize(sentences)
    positions = None
    if n_ctx:
        positions = torch.arange(1, 1 + n_ctx).expand(len(sentences), -1).clone()
    return ClassPrompts(token_ids, clip.embed_tokens(token_ids) if embed else None, positions)


def move_class_tokens(prompts: ClassPrompts, name_lengths: List[int],
                      position: str) -> ClassPrompts:
    """CoOp's class-token position: the class name after ('end'), before ('front') or
    inside ('middle') the context.

    ``prompts`` hold ``[SOS] [ctx x n] [name] [rest]`` with the context at
    ``1 .. n``; the tokens are reordered per class as CoOp assembles them,
    e.g. middle: ``[SOS] [ctx[:n//2]] [name] [ctx[n//2:]] [rest]``. The EOT
    token stays where it was.
    """
    if position == 'end':
        return prompts
    if position not in ('front', 'middle'):
        raise ValueError(f"class token position must be 'end', 'middle' or 'front', "
                         f'got {position!r}')
    n = prompts.ctx_positions.shape[1]
    length = prompts.token_ids.shape[1]
    orders, slots = [], []
    for name_len in name_lengths:
        ctx = list(range(1, 1 + n))
        name = list(range(1 + n, 1 + n + name_len))
        rest = list(range(1 + n + name_len, length))
        if position == 'front':
            order, slot = [0, *name, *ctx, *rest], list(range(1 + name_len, 1 + name_len + n))
        else:
            half = n // 2
            order = [0, *ctx[:half], *name, *ctx[half:], *rest]
            slot = [*range(1, 1 + half), *range(1 + half + name_len, 1 + n + name_len)]
        orders.append(order)
        slots.append(slot)
    order = torch.tensor(orders)
    return ClassPrompts(
        prompts.token_ids.gather(1, order),
        prompts.embeddings.gather(1,
                                  order.unsqueeze(-1).expand(-1, -1, prompts.embeddings.shape[-1])),
        torch.tensor(slots))


def splice_context(embeddings: torch.Tensor, positions: torch.Tensor,
                   ctx: torch.Tensor) -> torch.Tensor:
    """``embeddings`` (N, L, D) with row ``ctx[i, j]`` placed at ``positions[i, j]``.

    ``ctx`` is (N, n, D) or (n, D) (the same context for every prompt). Values
    are copied, not computed, so the result equals the reference's
    concatenation exactly; gradients flow to ``ctx``.
    """
    num, n = positions.shape
    ctx = ctx.to(embeddings.dtype)
    if ctx.dim() == 2:
        ctx = ctx.unsqueeze(0).expand(num, -1, -1)
    rows = torch.arange(num, device=positions.device).repeat_interleave(n)
    return embeddings.index_put((rows, positions.reshape(-1)), ctx.reshape(num * n, -1))
