"""ONNX converters of the sequence layers: `RNN`, `LSTM`, `GRU` (ONNX's own ops) and the
attention layers (composed: ONNX has no attention op before opset 23). Imported (and so
registered) by `minigrad.export.onnx`.

Layouts: minigrad is batch-first ``(N, T, ·)``, ONNX's recurrent ops are time-major
``(T, N, ·)`` (a Transpose each way). The gate blocks of minigrad's (PyTorch's) weights
are reordered: LSTM (i, f, g, o) -> ONNX's (i, o, f, c); GRU (r, z, n) -> (z, r, h), with
``linear_before_reset=1`` -- PyTorch's candidate ``tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ +
b_hn))``. ONNX's bias is ``W_b ‖ R_b``: minigrad's ``bias_ih ‖ bias_hh``.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.core import Parameter
from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext, register_onnx
from minigrad.layers.attention import CrossAttention, MultiHeadAttention
from minigrad.layers.recurrent.cells import GRU, LSTM, RNN

_GATE_ORDER: dict[type, list[int]] = {RNN: [0], LSTM: [0, 3, 1, 2], GRU: [1, 0, 2]}
"""For each layer type: ONNX's gate blocks, as indices into minigrad's."""


def _gates(ctx: OnnxContext, param: Parameter, order: list[int], hidden: int) -> str:
    """``param``'s gate blocks (rows of ``hidden``) in ONNX's ``order``."""
    if order == sorted(order):
        return ctx.parameter(param)
    blocks = ctx.node_outputs("Split", [ctx.parameter(param), ctx.ints([hidden] * len(order),
                                                                        "split")],
                              len(order), axis=0)
    return ctx.node("Concat", [blocks[i] for i in order], axis=0)


def _recurrent(layer: RNN | LSTM | GRU, ctx: OnnxContext, inputs: list[str]) -> str:
    order, hidden = _GATE_ORDER[type(layer)], layer.hidden_size
    axis0 = ctx.ints([0], "axes")
    w, r, b_ih, b_hh = (_gates(ctx, p, order, hidden) for p in (
        layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh))
    bias = ctx.node("Concat", [b_ih, b_hh], axis=0)
    operands = [ctx.node("Transpose", inputs, perm=[1, 0, 2])]  # (T, N, D)
    operands += [ctx.node("Unsqueeze", [value, axis0]) for value in (w, r, bias)]
    attributes: dict[str, object] = {"hidden_size": hidden}
    if isinstance(layer, RNN):
        attributes["activations"] = ["Tanh" if layer.nonlinearity == "tanh" else "Relu"]
    if isinstance(layer, GRU):
        attributes["linear_before_reset"] = 1
    op = type(layer).__name__
    outputs = ctx.node_outputs(op, operands, 3 if isinstance(layer, LSTM) else 2,
                               **attributes)
    if not layer.return_sequences:  # Y_h (1, N, H) -> (N, H)
        return ctx.node("Squeeze", [outputs[1], axis0])
    # Y (T, 1, N, H) -> (N, T, H)
    steps = ctx.node("Squeeze", [outputs[0], ctx.ints([1], "axes")])
    return ctx.node("Transpose", [steps], perm=[1, 0, 2])


for _type in _GATE_ORDER:
    ONNX_CONVERTERS[_type] = _recurrent


# -- attention -------------------------------------------------------------------------


def _project(ctx: OnnxContext, x: str, weight: str, bias: str | None) -> str:
    """``x Wᵀ (+ b)`` for a weight in PyTorch's ``(out, in)`` layout."""
    y = ctx.node("MatMul", [x, ctx.node("Transpose", [weight], perm=[1, 0])])
    return y if bias is None else ctx.node("Add", [y, bias])


def _split(ctx: OnnxContext, value: str, sizes: list[int], axis: int) -> list[str]:
    return ctx.node_outputs("Split", [value, ctx.ints(sizes, "split")], len(sizes), axis=axis)


def _in_projection(layer: MultiHeadAttention | CrossAttention, ctx: OnnxContext,
                   sizes: list[int]) -> tuple[list[str], list[str] | None]:
    """``in_proj_weight`` (and its bias) split into row blocks of ``sizes``."""
    weights = _split(ctx, ctx.parameter(layer.in_proj_weight), sizes, 0)
    if layer.in_proj_bias is None:
        return weights, None
    return weights, _split(ctx, ctx.parameter(layer.in_proj_bias), sizes, 0)


def _attend(layer: MultiHeadAttention | CrossAttention, ctx: OnnxContext, q: str, k: str,
            v: str) -> str:
    """``softmax(Q Kᵀ/√d (masked)) V`` per head, heads joined, then ``W_o`` and ``b_o``."""
    heads = ctx.ints([0, 0, layer.num_heads, layer.head_dim])  # (N, T, h, d); N, T dynamic

    def split_heads(value: str, perm: list[int]) -> str:
        return ctx.node("Transpose", [ctx.node("Reshape", [value, heads])], perm=perm)

    scores = ctx.node("MatMul", [split_heads(q, [0, 2, 1, 3]), split_heads(k, [0, 2, 3, 1])])
    scores = ctx.node("Div", [scores, ctx.constant(math.sqrt(layer.head_dim), "sqrt_d")])
    if layer.causal:  # hide key j from query i where j > i, for any T
        zero, one = ctx.constant(0, "zero", np.int64), ctx.constant(1, "one", np.int64)

        def positions(value: str) -> str:
            length = ctx.node("Squeeze", [ctx.node("Shape", [value], start=1, end=2),
                                          ctx.ints([0], "axes")])
            return ctx.node("Range", [zero, length, one])

        query_positions = ctx.node("Unsqueeze", [positions(q), ctx.ints([1], "axes")])
        later = ctx.node("Greater", [positions(k), query_positions])  # (T_q, T_k)
        scores = ctx.node("Where", [later, ctx.constant(-np.inf, "minus_inf"), scores])
    probs = ctx.node("Softmax", [scores], axis=-1)
    context = ctx.node("Transpose", [ctx.node("MatMul", [probs, split_heads(v, [0, 2, 1, 3])])],
                       perm=[0, 2, 1, 3])
    rows = ctx.node("Reshape", [context, ctx.ints([0, 0, layer.embed_dim])])
    bias = None if layer.out_proj_bias is None else ctx.parameter(layer.out_proj_bias)
    return _project(ctx, rows, ctx.parameter(layer.out_proj_weight), bias)


@register_onnx(MultiHeadAttention)
def _self_attention(layer: MultiHeadAttention, ctx: OnnxContext, inputs: list[str]) -> str:
    e = layer.embed_dim
    bias = None if layer.in_proj_bias is None else ctx.parameter(layer.in_proj_bias)
    qkv = _project(ctx, inputs[0], ctx.parameter(layer.in_proj_weight), bias)
    q, k, v = _split(ctx, qkv, [e, e, e], 2)
    return _attend(layer, ctx, q, k, v)


@register_onnx(CrossAttention)
def _cross_attention(layer: CrossAttention, ctx: OnnxContext, inputs: list[str]) -> str:
    e = layer.embed_dim
    (w_q, w_kv), biases = _in_projection(layer, ctx, [e, 2 * e])
    b_q, b_kv = (None, None) if biases is None else biases
    q = _project(ctx, inputs[0], w_q, b_q)
    k, v = _split(ctx, _project(ctx, inputs[1], w_kv, b_kv), [e, e], 2)
    return _attend(layer, ctx, q, k, v)
