"""Fused self-attention for open_clip's towers, sharing the original weights.

``torch.nn.MultiheadAttention`` takes a slow path whenever its input needs a gradient
(the editor differentiates CLIP with respect to the image): it transposes, copies and
materializes the attention weights. :class:`FusedSelfAttention` computes the same thing
with one ``F.linear`` for q, k, v, ``F.scaled_dot_product_attention`` and the output
projection, holding the very same ``Parameter`` objects (no copies, same state-dict
names), so weights loaded before or after the swap are shared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FusedSelfAttention(nn.Module):
    """Drop-in for a ``nn.MultiheadAttention`` used as self-attention (q = k = v source).

    Args:
        mha: the module to replace; its ``in_proj_weight`` (3C, C), ``in_proj_bias`` (3C,)
            and ``out_proj`` are shared, not copied.

    Call: ``(x, x, x, need_weights=False, attn_mask=None)`` with x (B, T, C) when the
    original was ``batch_first`` else (T, B, C); returns ``(out, None)`` like the original.
    """

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
            raise ValueError("FusedSelfAttention needs a packed q/k/v projection")
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("FusedSelfAttention does not support bias_k/bias_v or add_zero_attn")
        self.in_proj_weight = mha.in_proj_weight
        self.in_proj_bias = mha.in_proj_bias
        self.out_proj = mha.out_proj
        self.num_heads = mha.num_heads
        self.batch_first = mha.batch_first
        self.dropout = mha.dropout

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
        **_: object,
    ) -> tuple[torch.Tensor, None]:
        if (key is not None and key is not query) or (value is not None and value is not query):
            raise ValueError("FusedSelfAttention is for self-attention only (q = k = v)")
        if need_weights:
            raise ValueError("FusedSelfAttention does not return attention weights")
        x = query if self.batch_first else query.transpose(0, 1)
        b, t, c = x.shape
        h = self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3C)
        q, k, v = qkv.view(b, t, 3, h, c // h).permute(2, 0, 3, 1, 4).unbind(0)  # (B, h, T, d)
        if attn_mask is not None and attn_mask.dtype != torch.bool:
            attn_mask = attn_mask.to(q.dtype)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        out = F.linear(
            out.transpose(1, 2).reshape(b, t, c), self.out_proj.weight, self.out_proj.bias
        )
        return (out if self.batch_first else out.transpose(0, 1)), None


def fuse_attention(tower: nn.Module) -> int:
    """Replace every self-attention ``nn.MultiheadAttention`` named ``attn`` under
    ``tower`` (open_clip's residual blocks) by :class:`FusedSelfAttention`, in place.

    Cross-attention blocks (with ``ln_1_kv``) are left alone. Returns how many were replaced.
    """
    count = 0
    for block in list(tower.modules()):
        attn = getattr(block, "attn", None)
        if (
            isinstance(attn, nn.MultiheadAttention)
            and not hasattr(block, "ln_1_kv")
            and attn._qkv_same_embed_dim
            and attn.bias_k is None
            and not attn.add_zero_attn
        ):
            block.attn = FusedSelfAttention(attn)
            count += 1
    return count
