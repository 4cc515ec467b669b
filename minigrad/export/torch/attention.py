"""Torch converters of the attention family. Imported (and so registered) by
`minigrad.export.torch`.

`MultiHeadAttention` and `CrossAttention` become subclasses of
``nn.MultiheadAttention(batch_first=True)`` (with their ``kdim``, ``vdim``,
``add_bias_kv``, ``add_zero_attn``, ``bias``, ``dropout``) called as minigrad's:
``mha(x, x, x)``, ``mha(query, key, value)`` or ``mha(query, context, context)``, the
output alone. `TransformerEncoderLayer` and `TransformerDecoderLayer` become subclasses of
``nn.TransformerEncoderLayer``/``nn.TransformerDecoderLayer(batch_first=True)``.

State: PyTorch's keys and layouts; minigrad's differ in two places, mapped both ways:
attention's ``out_proj_weight``/``out_proj_bias`` are PyTorch's ``out_proj.weight``/
``out_proj.bias``, and the transformer's ``linear1``/``linear2`` are `Dense` layers, whose
weight is ``(in, out)``, PyTorch's ``(out, in)``.

What an attention layer applies in every call -- ``causal=True``, and masks set as its
``attn_mask``/``key_padding_mask`` attributes -- is baked into the module: each call
passes PyTorch the sum of them as a floating ``attn_mask`` (and ``key_padding_mask``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from minigrad.core import Array
from minigrad.export import additive_mask
from minigrad.export.torch.convert import (
    TORCH_CONVERTERS,
    TORCH_STATE_CONVERTERS,
    Convert,
    made_as,
    torch_dtype,
)
from minigrad.layers.activations import GELU, ReLU
from minigrad.layers.attention import (
    CrossAttention,
    MultiHeadAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
from minigrad.layers.attention.kernel import MultiHeadKernel


class FixedMasks:
    """The masks a minigrad attention layer applies in every call, as PyTorch takes them:
    ``attn_mask`` and ``key_padding_mask`` floating (``−inf`` where a bool one is True),
    and the causal flag."""

    def __init__(self, layer: MultiHeadKernel, dtype: torch.dtype) -> None:
        def additive(mask: object) -> torch.Tensor | None:
            if mask is None:
                return None  # a copy: the module must not share the layer's memory
            return torch.from_numpy(np.array(additive_mask(mask))).to(dtype)

        self.attn_mask = additive(layer.attn_mask)
        self.key_padding_mask = additive(layer.key_padding_mask)
        self.causal = layer.causal

    def __call__(self, query: torch.Tensor, key: torch.Tensor
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(attn_mask, key_padding_mask)`` for a call on ``query`` and ``key``."""
        where = query.device
        mask = None if self.attn_mask is None else self.attn_mask.to(where)
        padding = None if self.key_padding_mask is None else self.key_padding_mask.to(where)
        if self.causal:  # −inf above the diagonal: key j > query i hidden
            later = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool,
                               device=where).triu(1)
            causal = torch.zeros(later.shape, dtype=query.dtype,
                                 device=where).masked_fill(later, -torch.inf)
            mask = causal if mask is None else causal + mask
        return mask, padding


class AttentionModule(nn.MultiheadAttention):
    """minigrad's `MultiHeadAttention` (one input: ``mha(x, x, x)``) or `CrossAttention`
    (``mha(query, key, value)``; two inputs: ``mha(query, context, context)``), its output
    alone, with the layer's fixed masks."""

    masks: FixedMasks

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,  # type: ignore[override]
                value: torch.Tensor | None = None) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        attn_mask, key_padding_mask = self.masks(query, key)
        out: torch.Tensor = super().forward(query, key, value, need_weights=False,
                                            attn_mask=attn_mask,
                                            key_padding_mask=key_padding_mask)[0]
        return out


_OUT_PROJ = {"out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}


def _attention_state(layer: MultiHeadAttention | CrossAttention, state: dict[str, Array]
                     ) -> dict[str, Array]:
    back = {torch_key: key for key, torch_key in _OUT_PROJ.items()}
    return {back.get(key, key): value for key, value in state.items()}


def _attention(layer: MultiHeadAttention | CrossAttention, convert: Convert) -> nn.Module:
    state = {_OUT_PROJ.get(key, key): value for key, value in layer.state_dict().items()}
    dtype = torch_dtype(layer.out_proj_weight.dtype)
    module = made_as(lambda: AttentionModule(
        layer.embed_dim, layer.num_heads, dropout=layer.dropout,
        bias=layer.in_proj_bias is not None, add_bias_kv=layer.bias_k is not None,
        add_zero_attn=layer.add_zero_attn, kdim=layer.kdim, vdim=layer.vdim, batch_first=True,
        dtype=dtype), state)
    module.masks = FixedMasks(layer, dtype)
    return module


for _attention_type in (MultiHeadAttention, CrossAttention):
    TORCH_CONVERTERS[_attention_type] = _attention
    TORCH_STATE_CONVERTERS[_attention_type] = _attention_state


# -- transformer layers ------------------------------------------------------------------


def _transformer_state(layer: TransformerEncoderLayer | TransformerDecoderLayer,
                       state: dict[str, Array], to_torch: bool) -> dict[str, Array]:
    """minigrad's state as PyTorch's (``to_torch``), or back: the attention layers'
    out-projection keys renamed, the linear layers' weights transposed."""
    out = {}
    names = _OUT_PROJ if to_torch else {t: m for m, t in _OUT_PROJ.items()}
    for key, value in state.items():
        layer_name, _, name = key.partition(".")
        if layer_name in ("self_attn", "multihead_attn"):
            key = f"{layer_name}.{names.get(name, name)}"
        elif layer_name in ("linear1", "linear2") and name == "weight":
            value = value.T
        out[key] = value
    return out


def _activation(layer: TransformerEncoderLayer | TransformerDecoderLayer, convert: Convert
                ) -> Any:
    """PyTorch's string for ReLU and exact GELU (its fast path knows them), else the
    converted layer."""
    if type(layer.activation) is ReLU:
        return "relu"
    if type(layer.activation) is GELU and layer.activation.approximate == "none":
        return "gelu"
    return convert(layer.activation)


class EncoderLayerModule(nn.TransformerEncoderLayer):
    """minigrad's `TransformerEncoderLayer`, with its self-attention's fixed masks."""

    masks: FixedMasks

    def forward(self, src: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        attn_mask, key_padding_mask = self.masks(src, src)
        out: torch.Tensor = super().forward(src, src_mask=attn_mask,
                                            src_key_padding_mask=key_padding_mask)
        return out


class DecoderLayerModule(nn.TransformerDecoderLayer):
    """minigrad's `TransformerDecoderLayer`: ``(tgt, memory)``, with its attention layers'
    fixed masks."""

    masks: tuple[FixedMasks, FixedMasks]

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor  # type: ignore[override]
                ) -> torch.Tensor:
        tgt_mask, tgt_padding = self.masks[0](tgt, tgt)
        memory_mask, memory_padding = self.masks[1](tgt, memory)
        out: torch.Tensor = super().forward(
            tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding)
        return out


def _transformer(layer: TransformerEncoderLayer | TransformerDecoderLayer, convert: Convert
                 ) -> nn.Module:
    kind: Any = (DecoderLayerModule if isinstance(layer, TransformerDecoderLayer)
                 else EncoderLayerModule)
    dtype = torch_dtype(layer.linear1.weight.dtype)
    activation = _activation(layer, convert)
    state = _transformer_state(layer, layer.state_dict(), to_torch=True)
    if isinstance(activation, nn.Module):  # its own state, if any, under "activation."
        state.update((f"activation.{key}", torch.as_tensor(value).numpy())
                     for key, value in activation.state_dict().items())
    module: nn.Module = made_as(lambda: kind(
        layer.d_model, layer.nhead, layer.dim_feedforward, layer.dropout.p,
        activation=activation, layer_norm_eps=layer.norm1.eps, batch_first=True,
        norm_first=layer.norm_first, bias=layer.linear1.bias is not None, dtype=dtype), state)
    if isinstance(activation, nn.Module):
        module.activation = activation  # the converted layer itself (a shared one stays so)
    masks = FixedMasks(layer.self_attn, dtype)
    if isinstance(layer, TransformerDecoderLayer):
        masks_of: Any = (masks, FixedMasks(layer.multihead_attn, dtype))
    else:
        masks_of = masks
    module.masks = masks_of
    return module


def _state_back(layer: TransformerEncoderLayer | TransformerDecoderLayer,
                state: dict[str, Array]) -> dict[str, Array]:
    return _transformer_state(layer, state, to_torch=False)


for _transformer_type in (TransformerEncoderLayer, TransformerDecoderLayer):
    TORCH_CONVERTERS[_transformer_type] = _transformer
    TORCH_STATE_CONVERTERS[_transformer_type] = _state_back
