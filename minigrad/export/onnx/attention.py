"""ONNX converters of the attention family, composed of standard ops (ONNX has no
attention op before opset 23). Imported (and so registered) by `minigrad.export.onnx`.

Attention (`minigrad.layers.attention.kernel` has the formulas): the projections are
``MatMul`` by the transposed weight (PyTorch's ``(out, in)`` layout) and ``Add``; the extra
keys (``bias_k``, the zero key) are ``Expand``-ed over the batch and ``Concat``-ed after the
keys; heads are ``Reshape``/``Transpose``; the scores ``MatMul``, ``Div`` by √d, the masks,
``Softmax``, ``MatMul`` with the values, the heads joined and projected out.

Masks: the layer's ``causal=True`` is built for any length (``Where(Range(S) > Range(L)ᵀ,
−inf, ·)``); masks set as the layer's ``attn_mask``/``key_padding_mask`` attributes are
baked in as one additive constant: an ``(L, S)`` mask fixes the sequence lengths, an
``(N·h, L, S)`` or a key padding mask also fixes the batch size.

The transformer layers are their sub-layers' converters joined by ``Add`` nodes, as their
forward joins them (`minigrad.layers.attention.transformer`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.export import additive_mask
from minigrad.export.onnx.convert import OnnxContext, register_onnx
from minigrad.layers.attention import (
    CrossAttention,
    MultiHeadAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)
from minigrad.layers.attention.kernel import KEY, QUERY, VALUE, MultiHeadKernel


def _project(ctx: OnnxContext, x: str, weight: str, bias: str | None) -> str:
    """``x Wᵀ (+ b)`` for a weight in PyTorch's ``(out, in)`` layout."""
    y = ctx.node("MatMul", [x, ctx.node("Transpose", [weight], perm=[1, 0])])
    return y if bias is None else ctx.node("Add", [y, bias])


def _split(ctx: OnnxContext, value: str, sizes: list[int], axis: int) -> list[str]:
    return ctx.node_outputs("Split", [value, ctx.ints(sizes, "split")], len(sizes), axis=axis)


def _in_projection(layer: MultiHeadKernel, ctx: OnnxContext
                   ) -> tuple[list[str], list[str] | None]:
    """``W_q, W_k, W_v`` (the row blocks of ``in_proj_weight``, or the separate weights)
    and ``b_q, b_k, b_v`` (None without bias)."""
    e = layer.embed_dim
    if layer.in_proj_weight is not None:
        weights = _split(ctx, ctx.parameter(layer.in_proj_weight), [e, e, e], 0)
    else:
        weights = [ctx.parameter(w) for w in (layer.q_proj_weight, layer.k_proj_weight,
                                              layer.v_proj_weight) if w is not None]
    if layer.in_proj_bias is None:
        return weights, None
    return weights, _split(ctx, ctx.parameter(layer.in_proj_bias), [e, e, e], 0)


def _with_extra_keys(layer: MultiHeadKernel, ctx: OnnxContext, keys: str,
                     bias: Any) -> str:
    """``[K ; bias_k ; 0]`` along the sequence axis, for any batch size."""
    if bias is None and not layer.add_zero_attn:
        return keys
    one_key = ctx.node("Concat", [ctx.node("Shape", [keys], end=1),
                                  ctx.ints([1, layer.embed_dim])], axis=0)  # (N, 1, E)
    parts = [keys]
    if bias is not None:
        parts.append(ctx.node("Expand", [ctx.parameter(bias), one_key]))
    if layer.add_zero_attn:
        zero = ctx.constant(np.zeros((1, 1, layer.embed_dim)), "zero_key")
        parts.append(ctx.node("Expand", [zero, one_key]))
    return ctx.node("Concat", parts, axis=1)


def _fixed_mask(layer: MultiHeadKernel) -> np.ndarray[Any, Any] | None:
    """The layer's ``attn_mask`` and ``key_padding_mask`` attributes as one additive
    array broadcastable to ``(N, h, L, S')`` (the extra keys' columns zero)."""
    total: np.ndarray[Any, Any] | None = None
    if layer.attn_mask is not None:
        total = additive_mask(layer.attn_mask)
        if total.ndim == 3:
            total = total.reshape(-1, layer.num_heads, *total.shape[1:])
    if layer.key_padding_mask is not None:
        padding = additive_mask(layer.key_padding_mask)
        padding = padding.reshape(padding.shape[0], 1, 1, padding.shape[1])
        total = padding if total is None else total + padding
    if total is None or not layer.extra_keys:
        return total
    return np.concatenate([total, np.zeros((*total.shape[:-1], layer.extra_keys))], axis=-1)


def _causal(layer: MultiHeadKernel, ctx: OnnxContext, scores: str, q: str, k: str) -> str:
    """Hide key ``j`` from query ``i`` where ``j > i``, for any lengths (the extra keys,
    after the given ``S``, stay visible)."""
    zero, one = ctx.constant(0, "zero", np.int64), ctx.constant(1, "one", np.int64)

    def length(value: str) -> str:
        return ctx.node("Squeeze", [ctx.node("Shape", [value], start=1, end=2),
                                    ctx.ints([0], "axes")])

    query_positions = ctx.node("Unsqueeze", [ctx.node("Range", [zero, length(q), one]),
                                             ctx.ints([1], "axes")])
    given = length(k)
    keys = ctx.node("Range", [zero, ctx.node("Add", [given, ctx.constant(
        layer.extra_keys, "extra_keys", np.int64)]), one])
    hidden = ctx.node("Greater", [keys, query_positions])  # (L, S')
    if layer.extra_keys:
        hidden = ctx.node("And", [hidden, ctx.node("Less", [keys, given])])
    return ctx.node("Where", [hidden, ctx.constant(-np.inf, "minus_inf"), scores])


def _attend(layer: MultiHeadKernel, ctx: OnnxContext, q: str, k: str, v: str) -> str:
    """``softmax(Q Kᵀ/√d + M) V`` per head, heads joined, then ``W_o`` and ``b_o``."""
    heads = ctx.ints([0, -1, layer.num_heads, layer.head_dim])  # (N, T, h, d); N, T dynamic

    def split_heads(value: str, perm: list[int]) -> str:
        return ctx.node("Transpose", [ctx.node("Reshape", [value, heads])], perm=perm)

    k_all = _with_extra_keys(layer, ctx, k, layer.bias_k)
    v_all = _with_extra_keys(layer, ctx, v, layer.bias_v)
    scores = ctx.node("MatMul", [split_heads(q, [0, 2, 1, 3]), split_heads(k_all, [0, 2, 3, 1])])
    scores = ctx.node("Div", [scores, ctx.constant(math.sqrt(layer.head_dim), "sqrt_d")])
    fixed = _fixed_mask(layer)
    if fixed is not None:
        scores = ctx.node("Add", [scores, ctx.constant(fixed, "mask")])
    if layer.causal:
        scores = _causal(layer, ctx, scores, q, k)
    probs = ctx.node("Softmax", [scores], axis=-1)
    context = ctx.node("Transpose", [ctx.node("MatMul", [probs, split_heads(v_all, [0, 2, 1, 3])])],
                       perm=[0, 2, 1, 3])
    rows = ctx.node("Reshape", [context, ctx.ints([0, 0, layer.embed_dim])])
    bias = None if layer.out_proj_bias is None else ctx.parameter(layer.out_proj_bias)
    return _project(ctx, rows, ctx.parameter(layer.out_proj_weight), bias)


@register_onnx(MultiHeadAttention)
def _self_attention(layer: MultiHeadAttention, ctx: OnnxContext, inputs: list[str]) -> str:
    e = layer.embed_dim
    assert layer.in_proj_weight is not None  # self-attention: kdim = vdim = E
    bias = None if layer.in_proj_bias is None else ctx.parameter(layer.in_proj_bias)
    qkv = _project(ctx, inputs[0], ctx.parameter(layer.in_proj_weight), bias)  # at once
    q, k, v = _split(ctx, qkv, [e, e, e], 2)
    return _attend(layer, ctx, q, k, v)


@register_onnx(CrossAttention)
def _cross_attention(layer: CrossAttention, ctx: OnnxContext, inputs: list[str]) -> str:
    weights, biases = _in_projection(layer, ctx)
    sources = [inputs[0], inputs[1], inputs[-1]]  # (query, context): the context twice
    q, k, v = (_project(ctx, sources[part], weights[part],
                        None if biases is None else biases[part])
               for part in (QUERY, KEY, VALUE))
    return _attend(layer, ctx, q, k, v)


# -- transformer layers -------------------------------------------------------------------


def _sum(ctx: OnnxContext, a: str, b: str) -> str:
    """``a + b``, its probe value recorded (the sub-layers' converters read their inputs')."""
    total = ctx.node("Add", [a, b])
    ctx.values[total] = ctx.values[a] + ctx.values[b]
    return total


def _feedforward(layer: TransformerEncoderLayer | TransformerDecoderLayer, ctx: OnnxContext,
                 x: str) -> str:
    """``linear2(activation(linear1(x)))`` (the dropouts: the identity)."""
    for name in ("linear1", "activation", "linear2"):
        x = ctx.convert(getattr(layer, name), [x], name)
    return x


def _residual(layer: TransformerEncoderLayer | TransformerDecoderLayer, ctx: OnnxContext,
              x: str, norm: str, branch: Any) -> str:
    """``x + branch(norm(x))`` (``norm_first``) or ``norm(x + branch(x))``."""
    if layer.norm_first:
        return _sum(ctx, x, branch(ctx.convert(getattr(layer, norm), [x], norm)))
    return ctx.convert(getattr(layer, norm), [_sum(ctx, x, branch(x))], norm)


@register_onnx(TransformerEncoderLayer)
def _encoder_layer(layer: TransformerEncoderLayer, ctx: OnnxContext, inputs: list[str]) -> str:
    x = _residual(layer, ctx, inputs[0], "norm1",
                  lambda x: ctx.convert(layer.self_attn, [x], "self_attn"))
    return _residual(layer, ctx, x, "norm2", lambda x: _feedforward(layer, ctx, x))


@register_onnx(TransformerDecoderLayer)
def _decoder_layer(layer: TransformerDecoderLayer, ctx: OnnxContext, inputs: list[str]) -> str:
    x, memory = inputs
    x = _residual(layer, ctx, x, "norm1",
                  lambda x: ctx.convert(layer.self_attn, [x], "self_attn"))
    x = _residual(layer, ctx, x, "norm2",
                  lambda x: ctx.convert(layer.multihead_attn, [x, memory], "multihead_attn"))
    return _residual(layer, ctx, x, "norm3", lambda x: _feedforward(layer, ctx, x))
