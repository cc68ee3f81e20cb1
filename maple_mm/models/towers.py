"""The prompting core: open_clip's text and vision towers with prompt tokens spliced in.

open_clip's own embeddings, norms, pooling and residual blocks run, and only
the tokens entering each block change. Deep prompt ``i`` replaces the prompt
tokens before block ``i + 1``; block 0 sees the shallow (input-level) prompts,
and blocks after the last deep prompt see whatever the previous block left in
those positions. Called as open_clip's blocks (``efficient=False``) this is the
computation of the reference code. The default path of the classifier
(``efficient=True``) runs the same block weights through its own attention call
(:mod:`maple_mm.models.fast.block_rows`: batch-first projections, and the last
vision block only for the pooled class token), and encodes text with
:mod:`maple_mm.models.fast.text`; both give the same features up to rounding.
"""
from typing import List, Optional, Sequence

import torch
from open_clip import CLIP
from open_clip.transformer import text_global_pool
from torch import nn

from .clip import has_vision_tokens
from .fast.block_rows import run_block_rows, supports_row_blocks


def run_blocks_with_deep_prompts(blocks: nn.ModuleList,
                                 x: torch.Tensor,
                                 deep_prompts: Sequence[torch.Tensor],
                                 start: int,
                                 attn_mask: Optional[torch.Tensor] = None,
                                 row_blocks: bool = False,
                                 last_rows: Optional[slice] = None,
                                 block_inputs: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
    """Run residual blocks over ``x`` (N, L, D), replacing prompt tokens.

    Before block ``k`` (k = 1 .. len(deep_prompts)) the tokens
    ``x[:, start:start + n]`` are replaced by ``deep_prompts[k - 1]`` (n, D),
    the same prompt for every sequence of the batch.

    ``row_blocks`` runs the (unmasked) blocks through
    :func:`~maple_mm.models.fast.block_rows.run_block_rows`: the same block
    weights with batch-first projections (``nn.MultiheadAttention`` projects a
    transposed copy of ``x`` as many small batched products, about twice as
    slow on CPU). ``last_rows`` then limits the last block to those rows.

    ``block_inputs``, a list, receives each block's input (N, L, D), prompts in
    place (what PromptAlign's statistics are taken of).
    """
    if len(deep_prompts) >= len(blocks):
        raise ValueError(f'{len(deep_prompts)} deep prompts need more than '
                         f'{len(blocks)} transformer blocks.')
    for k, block in enumerate(blocks):
        if 1 <= k <= len(deep_prompts):
            prompt = deep_prompts[k - 1].to(x.dtype).expand(x.shape[0], -1, -1)
            end = start + prompt.shape[1]
            x = torch.cat([x[:, :start], prompt, x[:, end:]], dim=1)
        if block_inputs is not None:
            block_inputs.append(x)
        if row_blocks:
            x, _ = run_block_rows(block, x, last_rows if k == len(blocks) - 1 else None)
        else:
            x = block(x, attn_mask=attn_mask)
    return x


def project_text(clip: CLIP, pooled: torch.Tensor) -> torch.Tensor:
    """open_clip's text projection of pooled text states."""
    if isinstance(clip.text_projection, nn.Linear):
        return clip.text_projection(pooled)
    return pooled @ clip.text_projection


def encode_text(clip: CLIP,
                prompt_embeddings: torch.Tensor,
                token_ids: torch.Tensor,
                deep_prompts: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """Text features (N, embed_dim) of prompts given as token embeddings.

    Args:
        clip: The open_clip CLIP.
        prompt_embeddings: (N, L, text_width) token embeddings (learned context
            already in place); L may be shorter than the context length as
            long as it covers every EOT.
        token_ids: (N, L') token ids of the same prompts (L' >= L is fine); the
            pooled (EOT) position is found from them.
        deep_prompts: Text prompts (n_ctx, text_width) replacing positions
            1 .. n_ctx before blocks 1, 2, ...
    """
    length = prompt_embeddings.shape[1]
    x = prompt_embeddings + clip.positional_embedding[:length].to(prompt_embeddings.dtype)
    attn_mask = clip.attn_mask[:length, :length] if clip.attn_mask is not None else None
    x = run_blocks_with_deep_prompts(clip.transformer.resblocks, x, deep_prompts, 1, attn_mask)
    x = clip.ln_final(x)
    x = text_global_pool(
        x,
        token_ids[:, :length],
        clip.text_pool_type,
        eos_token_id=getattr(clip, 'text_eos_id', None))
    return project_text(clip, x)


def encode_image(clip: CLIP,
                 images: torch.Tensor,
                 shallow_prompt: Optional[torch.Tensor] = None,
                 deep_prompts: Sequence[torch.Tensor] = (),
                 efficient: bool = False,
                 block_inputs: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
    """Image features (B, embed_dim), with vision prompt tokens appended if given.

    A ModifiedResNet image tower (RN50 ...) has no token sequence: it runs as
    open_clip runs it (its attention pool included), and takes no prompts.

    ``shallow_prompt`` (n_ctx, vision_width) is appended after the patch tokens
    once the positional embedding has been added (the prompts get none), and
    normalised by ``ln_pre`` with the rest; ``deep_prompts`` then replace those
    last n_ctx tokens before blocks 1, 2, ... Without prompts this is
    open_clip's ``encode_image``.

    ``efficient`` runs the blocks through
    :func:`~maple_mm.models.fast.block_rows.run_block_rows`, the last one only
    for the class token where that is the only token pooled; same result.
    ``block_inputs``, a list, receives the (B, L, width) input of every block
    (block 0: the ``ln_pre`` output with the prompts appended).
    """
    visual = clip.visual
    if not has_vision_tokens(clip):
        if shallow_prompt is not None or len(deep_prompts):
            raise ValueError(f'A {type(visual).__name__} image tower takes no vision prompts.')
        return visual(images)
    # _embeds: patchify, class token, positional embedding, ln_pre. ln_pre is a
    # per-token LayerNorm, so normalising the prompts apart is the same as
    # normalising the concatenated sequence.
    x = visual._embeds(images)
    n_ctx = 0
    if shallow_prompt is not None:
        prompt = visual.ln_pre(shallow_prompt.to(x.dtype)).expand(x.shape[0], -1, -1)
        x = torch.cat([x, prompt], dim=1)
        n_ctx = shallow_prompt.shape[0]
    blocks = visual.transformer.resblocks
    row_blocks = efficient and supports_row_blocks(blocks)
    last_rows = slice(0, 1) if row_blocks and pools_class_token(clip) else None
    x = run_blocks_with_deep_prompts(
        blocks,
        x,
        deep_prompts,
        x.shape[1] - n_ctx,
        row_blocks=row_blocks,
        last_rows=last_rows,
        block_inputs=block_inputs)
    pooled, _ = visual._pool(x)
    return pooled @ visual.proj if visual.proj is not None else pooled


def pools_class_token(clip: CLIP) -> bool:
    """Whether image features come from the class token alone (per-token ln_post; ViT only)."""
    visual = clip.visual
    return visual.attn_pool is None and visual.pool_type == 'tok'
