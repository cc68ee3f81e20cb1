"""One open_clip residual block run for some query rows over extra keys (an exact shortcut).

Two exact savings need what a plain ``block(x)`` call cannot express: queries
for only the rows that are used later (the pooled token in a last block) and
keys/values that include rows computed elsewhere (a text prefix shared by every
class). The block's own modules and weights are used; only the attention call
is spelled out, as :class:`torch.nn.MultiheadAttention` computes it.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

KeysValues = Tuple[torch.Tensor, torch.Tensor]


def supports_row_blocks(blocks: nn.ModuleList) -> bool:
    """Whether every block is a plain pre-LN open_clip block this module can run."""
    for block in blocks:
        attn = getattr(block, 'attn', None)
        if (type(block) is not ResidualAttentionBlock or hasattr(block, 'ln_1_kv')
                or not isinstance(attn, nn.MultiheadAttention) or not attn.batch_first
                or not attn._qkv_same_embed_dim or attn.bias_k is not None or attn.add_zero_attn
                or (attn.dropout and block.training)):
            return False
    return True


def causal_mask(query_positions: torch.Tensor, num_keys: int) -> torch.Tensor:
    """(Lq, Lk) boolean mask: a query sees the keys at or before its position."""
    keys = torch.arange(num_keys, device=query_positions.device)
    return keys.unsqueeze(0) <= query_positions.unsqueeze(1)


def run_block_rows(block: ResidualAttentionBlock,
                   x: torch.Tensor,
                   query_rows: Optional[slice] = None,
                   past: Optional[KeysValues] = None,
                   causal: bool = False) -> Tuple[torch.Tensor, KeysValues]:
    """Run ``block`` on ``x`` (N, L, D) and return (output rows, keys/values of x).

    Args:
        block: A block accepted by :func:`supports_row_blocks`.
        x: The block input.
        query_rows: Rows of ``x`` whose outputs are wanted (all if None).
            Every row still serves as a key and value.
        past: Keys and values (1 or N, P, D) of P positions before ``x``, seen
            by every row of ``x``; ``x`` then starts at position P.
        causal: Rows see only positions up to their own.
    """
    attn = block.attn
    batch, length, width = x.shape
    heads = attn.num_heads
    h = block.ln_1(x)
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    keys, values = F.linear(h, weight[width:], None if bias is None else bias[width:]).chunk(
        2, dim=-1)
    own = (keys, values)
    if past is not None:
        keys = torch.cat([past[0].expand(batch, -1, -1), keys], dim=1)
        values = torch.cat([past[1].expand(batch, -1, -1), values], dim=1)
    rows = slice(None) if query_rows is None else query_rows
    x, h = x[:, rows], h[:, rows]
    queries = F.linear(h, weight[:width], None if bias is None else bias[:width])

    mask, is_causal = None, False
    if causal and past is None and query_rows is None:
        is_causal = True  # lets SDPA pick its fused causal kernel
    elif causal:
        offset = keys.shape[1] - length
        positions = torch.arange(length, device=x.device)[rows] + offset
        mask = causal_mask(positions, keys.shape[1])

    def split_heads(t: torch.Tensor) -> torch.Tensor:
        return t.unflatten(-1, (heads, width // heads)).transpose(1, 2)

    out = F.scaled_dot_product_attention(
        split_heads(queries),
        split_heads(keys),
        split_heads(values),
        attn_mask=mask,
        is_causal=is_causal)
    out = attn.out_proj(out.transpose(1, 2).flatten(2))
    x = x + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, own
