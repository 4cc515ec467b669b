"""Attention: the family package.

* `masks` -- PyTorch's attention masks (``attn_mask``, ``key_padding_mask``, causal)
  validated and summed into one additive mask;
* `kernel` -- the parameters (PyTorch's names and layouts) and the shared forward and
  backward of multi-head attention;
* `layers` -- `MultiHeadAttention` (self-attention, a `Layer`) and `CrossAttention`
  (query, key, value: a `MergeLayer`);
* `transformer` -- `TransformerEncoderLayer` and `TransformerDecoderLayer`, PyTorch's,
  composed of minigrad's layers.
"""

from minigrad.layers.attention.kernel import AttentionCache
from minigrad.layers.attention.layers import CrossAttention, MultiHeadAttention
from minigrad.layers.attention.transformer import TransformerDecoderLayer, TransformerEncoderLayer

__all__ = [
    "AttentionCache",
    "CrossAttention",
    "MultiHeadAttention",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
]
