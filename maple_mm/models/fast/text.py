"""Class-prompt text features with only the work that changes the result.

The text transformer is causal and pools one token (EOT), so for a set of class
prompts ``[SOS] [ctx] [shared words] [class words] [EOT] [pad]``:

- positions after a prompt's EOT never reach its features: each prompt is run
  only up to its own EOT, with prompts grouped by EOT position;
- the leading positions shared by every prompt (SOS, the learned context, fixed
  words such as "of a") have the same states in every prompt, and deep prompts
  only replace positions among them: they are run once (once per image when
  the context depends on the image, as in CoCoOp) and every class attends to
  their keys and values;
- the last block only needs the EOT row of each prompt.

Each of these is exact; results differ from the full 77-position run of
:func:`maple_mm.models.towers.encode_text` only by floating-point rounding.
The parity tests in ``tests/test_models/test_fast_text.py`` are the contract.
"""
from typing import List, NamedTuple, Optional, Sequence

import torch
from open_clip import CLIP

from ..clip import has_vision_tokens
from ..towers import project_text
from .block_rows import KeysValues, run_block_rows, supports_row_blocks


class TextLayout(NamedTuple):
    """How a set of class prompts is split into shared and per-class work."""
    shared_len: int  # leading positions equal for every class
    groups: List[torch.Tensor]  # class indices sharing one EOT position
    lengths: List[int]  # sequence length (EOT position + 1) per group


def pooled_positions(clip: CLIP, token_ids: torch.Tensor) -> torch.Tensor:
    """(C,) position of the token each prompt's features are taken from."""
    if clip.text_pool_type == 'eos':
        return (token_ids == clip.text_eos_id).int().argmax(dim=-1)
    return token_ids.argmax(dim=-1)


def supports_fast_text(clip: CLIP) -> bool:
    """Causal text transformer, EOT pooling and blocks :mod:`.block_rows` can run."""
    return (clip.attn_mask is not None and clip.text_pool_type in ('argmax', 'eos')
            and supports_row_blocks(clip.transformer.resblocks))


def fast_path_fallbacks(clip: CLIP) -> List[str]:
    """Which towers of ``clip`` cannot take the fast paths (empty: all are active).

    They need open_clip's pre-LN ``ResidualAttentionBlock`` around a batch-first
    ``nn.MultiheadAttention`` (:func:`.block_rows.supports_row_blocks`), and a
    causal text transformer pooled at one token. A ModifiedResNet image tower
    (RN50 ...) has no blocks to shortcut: it always runs as open_clip runs it,
    which is no fallback.
    """
    fallbacks = []
    if not supports_fast_text(clip):
        fallbacks.append('text (causal mask, EOT pooling and plain blocks needed; '
                         f'got {type(clip.transformer.resblocks[0]).__name__} blocks, '
                         f'pooling {clip.text_pool_type!r})')
    if has_vision_tokens(clip) and not supports_row_blocks(clip.visual.transformer.resblocks):
        fallbacks.append('vision (plain blocks with nn.MultiheadAttention needed; got '
                         f'{type(clip.visual.transformer.resblocks[0]).__name__} blocks)')
    return fallbacks


def text_layout(clip: CLIP,
                token_ids: torch.Tensor,
                ctx_positions: Optional[torch.Tensor] = None,
                ctx_shared: bool = True) -> TextLayout:
    """Shared prefix length and EOT groups of the prompts in ``token_ids``.

    A position is shared when every prompt has the same token there and, for
    learned-context slots, the same context (``ctx_shared``: not class-specific)
    in the same slot.
    """
    eot = pooled_positions(clip, token_ids)
    same = (token_ids == token_ids[:1]).all(dim=0)
    if ctx_positions is not None:
        is_ctx = torch.zeros_like(token_ids, dtype=torch.bool)
        is_ctx.scatter_(1, ctx_positions, True)
        same &= (is_ctx == is_ctx[:1]).all(dim=0)
        if not ctx_shared:
            same &= ~is_ctx.any(dim=0)
        else:  # context row j must sit in the same slot in every prompt
            same &= ~(is_ctx.any(dim=0) & ~_same_slots(ctx_positions, token_ids.shape[1]))
    differing = (~same).nonzero()
    first_difference = int(differing[0]) if len(differing) else token_ids.shape[1]
    # Each prompt's EOT row stays per-class: it is the one that is pooled.
    shared_len = max(1, min(first_difference, int(eot.min())))
    groups, lengths = [], []
    for position in torch.unique(eot).tolist():
        groups.append((eot == position).nonzero().flatten())
        lengths.append(position + 1)
    return TextLayout(shared_len, groups, lengths)


def _same_slots(ctx_positions: torch.Tensor, length: int) -> torch.Tensor:
    """(L,) True where every prompt holds the same context row (or none)."""
    row = torch.full((ctx_positions.shape[0], length),
                     -1,
                     dtype=torch.long,
                     device=ctx_positions.device)
    index = torch.arange(ctx_positions.shape[1], device=ctx_positions.device)
    row.scatter_(1, ctx_positions, index.expand_as(ctx_positions))
    return (row == row[:1]).all(dim=0)


def _prefix_keys_values(clip: CLIP, prefix: torch.Tensor,
                        deep_prompts: Sequence[torch.Tensor]) -> List[KeysValues]:
    """Keys and values of the shared prefixes (P, S, D) at every block."""
    x = prefix + clip.positional_embedding[:prefix.shape[1]].to(prefix.dtype)
    past = []
    for k, block in enumerate(clip.transformer.resblocks):
        if 1 <= k <= len(deep_prompts):
            prompt = deep_prompts[k - 1].to(x.dtype).expand(x.shape[0], -1, -1)
            x = torch.cat([x[:, :1], prompt, x[:, 1 + prompt.shape[1]:]], dim=1)
        x, keys_values = run_block_rows(block, x, causal=True)
        past.append(keys_values)
    return past


def _tail_features(clip: CLIP, tails: torch.Tensor, start: int,
                   past: List[KeysValues]) -> torch.Tensor:
    """Features (N, embed_dim) of prompts whose rows from ``start`` are ``tails``.

    ``tails`` (N, L - start, D) are token embeddings ending at each prompt's
    EOT; ``past`` holds the keys and values of their prefix (1 or N rows).
    """
    length = start + tails.shape[1]
    x = tails + clip.positional_embedding[start:length].to(tails.dtype)
    blocks = clip.transformer.resblocks
    for k, block in enumerate(blocks):
        last = k == len(blocks) - 1
        x, _ = run_block_rows(
            block, x, query_rows=slice(-1, None) if last else None, past=past[k], causal=True)
    return project_text(clip, clip.ln_final(x[:, -1]))


def encode_class_prompts(clip: CLIP,
                         prefix: torch.Tensor,
                         tails: torch.Tensor,
                         layout: TextLayout,
                         deep_prompts: Sequence[torch.Tensor] = (),
                         chunk_size: Optional[int] = None) -> torch.Tensor:
    """Features (P, C, embed_dim) of the prompts ``prefix[p] + tails[c]``.

    Equal, up to rounding, to :func:`~maple_mm.models.towers.encode_text` on
    the full sequences; see the module docstring for what is skipped.

    Args:
        clip: An open_clip CLIP accepted by :func:`supports_fast_text`.
        prefix: (P, S, D) embeddings of the ``layout.shared_len`` leading
            positions: one row shared by every class (P = 1), or one per
            image when the context depends on the image.
        tails: (C, L - S, D) embeddings of each class from position S on, up
            to at least its EOT (L - S >= max length - S).
        layout: :func:`text_layout` of the prompts (it reads token ids back to
            the host, so callers compute it once per class set).
        deep_prompts: Text prompts replacing positions 1 .. n before blocks 1, 2, ...
        chunk_size: Run at most this many sequences at once (bounds memory when
            no gradients are kept); None runs each EOT group at once.
    """
    start = layout.shared_len
    num_prefixes = prefix.shape[0]
    past = _prefix_keys_values(clip, prefix.to(tails.dtype), deep_prompts)
    features, order = [], []
    classes_per_chunk = None if chunk_size is None else max(1, chunk_size // num_prefixes)
    for indices, length in zip(layout.groups, layout.lengths):
        for chunk in indices.split(classes_per_chunk or len(indices)):
            rows = tails[chunk, :length - start]
            if num_prefixes > 1:  # every image's prefix with every class's tail
                rows = rows.repeat(num_prefixes, 1, 1)
                chunk_past = [
                    tuple(t.repeat_interleave(len(chunk), dim=0) for t in kv) for kv in past
                ]
            else:
                chunk_past = past
            features.append(
                _tail_features(clip, rows, start,
                               chunk_past).unflatten(0, (num_prefixes, len(chunk))))
            order.append(chunk)
    order = torch.cat(order)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    return torch.cat(features, dim=1)[:, inverse]
