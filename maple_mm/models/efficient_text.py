"""Class-prompt text features with only the work that changes the result.

The text transformer is causal and pools one token (EOT), so for a set of class
prompts ``[SOS] [ctx] [shared words] [class words] [EOT] [pad]``:

- positions after a prompt's EOT never reach its features: each prompt is run
  only up to its own EOT, with prompts grouped by EOT position;
- the leading positions shared by every prompt (SOS, the learned context, fixed
  words such as "of a") have the same states in every prompt, and deep prompts
  only replace positions among them: they are run once and every class attends
  to their keys and values;
- the last block only needs the EOT row of each prompt.

Each of these is exact; results differ from the full 77-position run only by
floating-point rounding.
"""
from typing import List, NamedTuple, Optional, Sequence

import torch
from open_clip import CLIP
from torch import nn

from .block_rows import KeysValues, run_block_rows, supports_row_blocks


class TextLayout(NamedTuple):
    """How a set of class prompts is split into shared and per-class work."""
    shared_len: int                  # leading positions equal for every class
    groups: List[torch.Tensor]       # class indices sharing one EOT position
    lengths: List[int]               # sequence length (EOT position + 1) per group


def pooled_positions(clip: CLIP, token_ids: torch.Tensor) -> torch.Tensor:
    """(C,) position of the token each prompt's features are taken from."""
    if clip.text_pool_type == 'eos':
        return (token_ids == clip.text_eos_id).int().argmax(dim=-1)
    return token_ids.argmax(dim=-1)


def supports_efficient_text(clip: CLIP) -> bool:
    """Causal text transformer, EOT pooling and blocks :mod:`block_rows` can run."""
    return (clip.attn_mask is not None and clip.text_pool_type in ('argmax', 'eos')
            and supports_row_blocks(clip.transformer.resblocks))


def text_layout(clip: CLIP, token_ids: torch.Tensor, n_ctx: int) -> TextLayout:
    """Shared prefix length and EOT groups of the prompts in ``token_ids``."""
    eot = pooled_positions(clip, token_ids)
    same = (token_ids == token_ids[:1]).all(dim=0)
    same[:1 + n_ctx] = True  # SOS and the learned context are the same for all
    differing = (~same).nonzero()
    first_difference = int(differing[0]) if len(differing) else token_ids.shape[1]
    # Each prompt's EOT row stays per-class: it is the one that is pooled.
    shared_len = min(first_difference, int(eot.min()))
    groups, lengths = [], []
    for position in torch.unique(eot).tolist():
        groups.append((eot == position).nonzero().flatten())
        lengths.append(position + 1)
    return TextLayout(shared_len, groups, lengths)


def _shared_prefix_keys_values(clip: CLIP, prefix: torch.Tensor,
                               deep_prompts: Sequence[torch.Tensor]) -> List[KeysValues]:
    """Keys and values of the shared prefix (1, P, D) at every block."""
    x = prefix + clip.positional_embedding[:prefix.shape[1]].to(prefix.dtype)
    past = []
    for k, block in enumerate(clip.transformer.resblocks):
        if 1 <= k <= len(deep_prompts):
            prompt = deep_prompts[k - 1].to(x.dtype).unsqueeze(0)
            x = torch.cat([x[:, :1], prompt, x[:, 1 + prompt.shape[1]:]], dim=1)
        x, keys_values = run_block_rows(block, x, causal=True)
        past.append(keys_values)
    return past


def _class_rows_features(clip: CLIP, tails: torch.Tensor, start: int,
                         past: List[KeysValues]) -> torch.Tensor:
    """Features (N, embed_dim) of prompts whose rows from ``start`` are ``tails``.

    ``tails`` (N, L - start, D) are token embeddings ending at each prompt's EOT.
    """
    length = start + tails.shape[1]
    x = tails + clip.positional_embedding[start:length].to(tails.dtype)
    blocks = clip.transformer.resblocks
    for k, block in enumerate(blocks):
        last = k == len(blocks) - 1
        x, _ = run_block_rows(block, x, query_rows=slice(-1, None) if last else None,
                              past=past[k], causal=True)
    x = clip.ln_final(x[:, -1])
    if isinstance(clip.text_projection, nn.Linear):
        return clip.text_projection(x)
    return x @ clip.text_projection


def encode_class_prompts(clip: CLIP,
                         sos: torch.Tensor,
                         ctx: torch.Tensor,
                         suffix_embeddings: torch.Tensor,
                         token_ids: torch.Tensor,
                         deep_prompts: Sequence[torch.Tensor] = (),
                         chunk_size: Optional[int] = None,
                         layout: Optional[TextLayout] = None) -> torch.Tensor:
    """Text features (C, embed_dim) of ``[SOS] [ctx] [suffix_c]`` for every class c.

    Equal, up to rounding, to :func:`~maple_mm.models.prompted.encode_text_with_prompts`
    on the full sequences; see the module docstring for what is skipped.

    Args:
        clip: An open_clip CLIP accepted by :func:`supports_efficient_text`.
        sos: (D,) or (1, D) embedding of the start token.
        ctx: (n_ctx, D) learned context.
        suffix_embeddings: (C, L - 1 - n_ctx, D) fixed embeddings after the context.
        token_ids: (C, L) token ids of the same prompts.
        deep_prompts: Text prompts replacing positions 1 .. n_ctx before blocks 1, 2, ...
        chunk_size: Run at most this many classes at once (bounds memory when
            no gradients are kept); None runs each EOT group at once.
        layout: :func:`text_layout` of ``token_ids``, if already known (it
            needs device-to-host reads, so callers compute it once per class set).
    """
    n_ctx = ctx.shape[0]
    if layout is None:
        layout = text_layout(clip, token_ids, n_ctx)
    start = layout.shared_len
    dtype = suffix_embeddings.dtype
    prefix = torch.cat([sos.reshape(1, -1).to(dtype), ctx.to(dtype),
                        suffix_embeddings[0, :start - 1 - n_ctx]], dim=0).unsqueeze(0)
    past = _shared_prefix_keys_values(clip, prefix, deep_prompts)

    features, order = [], []
    for indices, length in zip(layout.groups, layout.lengths):
        tails = suffix_embeddings[:, start - 1 - n_ctx:length - 1 - n_ctx]
        for chunk in indices.split(chunk_size or len(indices)):
            features.append(_class_rows_features(clip, tails[chunk], start, past))
            order.append(chunk)
    inverse = torch.empty_like(token_ids[:, 0])
    inverse[torch.cat(order)] = torch.arange(len(inverse), device=inverse.device)
    return torch.cat(features)[inverse]
