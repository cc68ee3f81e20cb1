"""Run open_clip's text and vision towers with prompt tokens spliced in.

Nothing of CLIP is re-implemented here: the functions call open_clip's own
embedding, residual-block, normalisation and pooling modules, and only change
which tokens enter each block. Deep prompt ``i`` replaces the prompt tokens
before block ``i + 1``; block 0 sees the shallow prompts and blocks after the
last deep prompt see whatever the previous block left in those positions.
"""
from typing import Optional, Sequence

import torch
from open_clip import CLIP
from open_clip.transformer import text_global_pool
from torch import nn


def run_blocks_with_deep_prompts(blocks: nn.ModuleList,
                                 x: torch.Tensor,
                                 deep_prompts: Sequence[torch.Tensor],
                                 start: int,
                                 attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Run residual blocks over ``x`` (N, L, D), replacing prompt tokens.

    Before block ``k`` (k = 1 .. len(deep_prompts)) the tokens
    ``x[:, start:start + n]`` are replaced by ``deep_prompts[k - 1]`` (n, D),
    the same prompt for every sequence of the batch.
    """
    if len(deep_prompts) >= len(blocks):
        raise ValueError(f'{len(deep_prompts)} deep prompts need more than '
                         f'{len(blocks)} transformer blocks.')
    for k, block in enumerate(blocks):
        if 1 <= k <= len(deep_prompts):
            prompt = deep_prompts[k - 1].to(x.dtype).expand(x.shape[0], -1, -1)
            end = start + prompt.shape[1]
            x = torch.cat([x[:, :start], prompt, x[:, end:]], dim=1)
        x = block(x, attn_mask=attn_mask)
    return x


def encode_text_with_prompts(clip: CLIP,
                             prompt_embeddings: torch.Tensor,
                             token_ids: torch.Tensor,
                             deep_prompts: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """Text features (C, embed_dim) of prompts given as token embeddings.

    Args:
        clip: The open_clip CLIP.
        prompt_embeddings: (C, L, text_width): SOS, learnable context, then the
            embedded rest of the prompt; L may be shorter than the context
            length as long as it covers every EOT.
        token_ids: (C, L') token ids of the same prompts (L' >= L is fine); the
            EOT position is their argmax.
        deep_prompts: Text prompts (n_ctx, text_width) replacing positions
            1 .. n_ctx before blocks 1, 2, ...
    """
    length = prompt_embeddings.shape[1]
    x = prompt_embeddings + clip.positional_embedding[:length].to(prompt_embeddings.dtype)
    attn_mask = clip.attn_mask[:length, :length] if clip.attn_mask is not None else None
    x = run_blocks_with_deep_prompts(clip.transformer.resblocks, x, deep_prompts, 1, attn_mask)
    x = clip.ln_final(x)
    x = text_global_pool(x, token_ids[:, :length], clip.text_pool_type,
                         eos_token_id=getattr(clip, 'text_eos_id', None))
    if isinstance(clip.text_projection, nn.Linear):
        return clip.text_projection(x)
    return x @ clip.text_projection


def encode_image_with_prompts(clip: CLIP,
                              images: torch.Tensor,
                              shallow_prompt: torch.Tensor,
                              deep_prompts: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """Image features (B, embed_dim) with vision prompt tokens appended.

    ``shallow_prompt`` (n_ctx, vision_width) is appended after the patch tokens
    once the positional embedding has been added (the prompts get none), and
    normalised by ``ln_pre`` with the rest; ``deep_prompts`` then replace those
    last n_ctx tokens before blocks 1, 2, ...
    """
    visual = clip.visual
    # _embeds: patchify, class token, positional embedding, ln_pre. ln_pre is a
    # per-token LayerNorm, so normalising the prompts apart is the same as
    # normalising the concatenated sequence.
    x = visual._embeds(images)
    prompt = visual.ln_pre(shallow_prompt.to(x.dtype)).expand(x.shape[0], -1, -1)
    x = torch.cat([x, prompt], dim=1)
    n_ctx = shallow_prompt.shape[0]
    x = run_blocks_with_deep_prompts(visual.transformer.resblocks, x, deep_prompts,
                                     x.shape[1] - n_ctx)
    pooled, _ = visual._pool(x)
    return pooled @ visual.proj if visual.proj is not None else pooled
