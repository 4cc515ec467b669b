"""ONNX converters of the activations. Imported (and so registered) by
`minigrad.export.onnx`.

Where onnxruntime has no float64 kernel for an op (LeakyRelu at opset 20+, Elu,
Softplus, PRelu at opset 21, Softsign, Selu, Celu, HardSigmoid, HardSwish), where an op
takes its constants as float32 attributes (Selu, Celu, HardSigmoid: not a float64
model's constants), or ONNX has no op at opset 17 (Gelu, Mish), the converter spells out
minigrad's formula with basic ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.core import Module
from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext, OnnxConverter, register_onnx
from minigrad.layers.activations import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from minigrad.layers.activations.from_input import SELU_ALPHA, SELU_SCALE


def _unary(op_type: str) -> OnnxConverter:
    def convert(layer: Module[Any], ctx: OnnxContext, inputs: list[str]) -> str:
        return ctx.node(op_type, inputs)

    return convert


_UNARY: list[tuple[type[Module[Any]], str]] = [
    (Sigmoid, "Sigmoid"), (Tanh, "Tanh"), (ReLU, "Relu"),
]
for _type, _op in _UNARY:
    ONNX_CONVERTERS[_type] = _unary(_op)


@register_onnx(LeakyReLU)
def _leaky_relu(layer: LeakyReLU, ctx: OnnxContext, inputs: list[str]) -> str:
    if ctx.dtype == np.float32:
        return ctx.node("LeakyRelu", inputs, alpha=layer.negative_slope)
    # onnxruntime has no float64 LeakyRelu kernel at every opset (1.32 lacks one at 20+),
    # so other dtypes spell out minigrad's formula: where(x > 0, x, a · x).
    x = inputs[0]
    positive = ctx.node("Greater", [x, ctx.constant(0, "zero")])
    scaled = ctx.node("Mul", [x, ctx.constant(layer.negative_slope, "negative_slope")])
    return ctx.node("Where", [positive, x, scaled])


@register_onnx(Softmax)
def _softmax(layer: Softmax, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Softmax", inputs, axis=layer.axis)  # opset >= 13: that axis alone


@register_onnx(LogSoftmax)
def _log_softmax(layer: LogSoftmax, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("LogSoftmax", inputs, axis=layer.axis)


@register_onnx(GELU)
def _gelu(layer: GELU, ctx: OnnxContext, inputs: list[str]) -> str:
    # ONNX has Gelu only from opset 20; composed, the one graph serves every opset:
    # x/2 · (1 + erf(x/√2)), or x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))).
    x = inputs[0]
    if layer.approximate == "tanh":
        cube = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
        inner = ctx.node("Add", [x, ctx.node("Mul", [cube, ctx.constant(0.044715, "c")])])
        core = ctx.node("Tanh", [ctx.node("Mul", [inner, ctx.constant(np.sqrt(2 / np.pi),
                                                                      "sqrt_2_over_pi")])])
    else:
        core = ctx.node("Erf", [ctx.node("Div", [x, ctx.constant(np.sqrt(2.0), "sqrt_2")])])
    one_plus = ctx.node("Add", [core, ctx.constant(1, "one")])
    return ctx.node("Mul", [ctx.node("Mul", [x, ctx.constant(0.5, "half")]), one_plus])


@register_onnx(SiLU)
def _silu(layer: SiLU, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Mul", [inputs[0], ctx.node("Sigmoid", inputs)])  # x · σ(x)


@register_onnx(ELU)
def _elu(layer: ELU, ctx: OnnxContext, inputs: list[str]) -> str:
    if ctx.dtype == np.float32:
        return ctx.node("Elu", inputs, alpha=layer.alpha)
    # No float64 Elu kernel in onnxruntime: where(x > 0, x, α(e^min(x, 0) − 1)).
    x = inputs[0]
    exp = ctx.node("Exp", [ctx.node("Min", [x, ctx.constant(0, "zero")])])
    negative = ctx.node("Mul", [ctx.node("Sub", [exp, ctx.constant(1, "one")]),
                                ctx.constant(layer.alpha, "alpha")])
    return ctx.node("Where", [ctx.node("Greater", [x, ctx.constant(0, "zero")]), x, negative])


# -- the softplus family, its option and PyTorch's further activations ------------------


def softplus_of(ctx: OnnxContext, s: str) -> str:
    """``log(1 + e^s)`` as minigrad computes it, ``max(s, 0) + log(1 + e^(−|s|))``:
    finite for every finite ``s``."""
    tail = ctx.node("Log", [ctx.node("Add", [ctx.node("Exp", [ctx.node("Neg", [
        ctx.node("Abs", [s])])]), ctx.constant(1, "one")])])
    return ctx.node("Add", [ctx.node("Max", [s, ctx.constant(0, "zero")]), tail])


def _where_positive(ctx: OnnxContext, x: str, positive: str, other: str) -> str:
    """``where(x > 0, positive, other)``."""
    return ctx.node("Where", [ctx.node("Greater", [x, ctx.constant(0, "zero")]), positive,
                              other])


def _scaled_expm1(ctx: OnnxContext, x: str, inner: float, outer: float) -> str:
    """``outer · (e^(min(x, 0) · inner) − 1)``, the negative side of SELU and CELU."""
    exponent = ctx.node("Mul", [ctx.node("Min", [x, ctx.constant(0, "zero")]),
                                ctx.constant(inner, "inner")])
    return ctx.node("Mul", [ctx.node("Sub", [ctx.node("Exp", [exponent]),
                                             ctx.constant(1, "one")]),
                            ctx.constant(outer, "outer")])


def _clip(ctx: OnnxContext, x: str, low: float, high: float) -> str:
    return ctx.node("Clip", [x, ctx.constant(low, "min"), ctx.constant(high, "max")])


@register_onnx(Softplus)
def _softplus(layer: Softplus, ctx: OnnxContext, inputs: list[str]) -> str:
    # where(βx > threshold, x, softplus(βx) / β); onnxruntime has no float64 Softplus.
    x = inputs[0]
    scaled = ctx.node("Mul", [x, ctx.constant(layer.beta, "beta")])
    soft = ctx.node("Div", [softplus_of(ctx, scaled), ctx.constant(layer.beta, "beta")])
    linear = ctx.node("Greater", [scaled, ctx.constant(layer.threshold, "threshold")])
    return ctx.node("Where", [linear, x, soft])


@register_onnx(Mish)
def _mish(layer: Mish, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]  # x · tanh(softplus(x)); ONNX's Mish is opset 18
    return ctx.node("Mul", [x, ctx.node("Tanh", [softplus_of(ctx, x)])])


@register_onnx(LogSigmoid)
def _log_sigmoid(layer: LogSigmoid, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Neg", [softplus_of(ctx, ctx.node("Neg", inputs))])  # −softplus(−x)


@register_onnx(SELU)
def _selu(layer: SELU, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]
    return _where_positive(ctx, x, ctx.node("Mul", [x, ctx.constant(SELU_SCALE, "scale")]),
                           _scaled_expm1(ctx, x, 1.0, SELU_SCALE * SELU_ALPHA))


@register_onnx(CELU)
def _celu(layer: CELU, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]
    return _where_positive(ctx, x, x, _scaled_expm1(ctx, x, 1.0 / layer.alpha, layer.alpha))


@register_onnx(PReLU)
def _prelu(layer: PReLU, ctx: OnnxContext, inputs: list[str]) -> str:
    x, rank = inputs[0], len(ctx.shape(inputs[0]))
    slope = ctx.parameter(layer.weight)
    if layer.channels > 1:  # (C,) -> (C, 1, ...): one slope per channel of axis 1
        slope = ctx.node("Reshape", [slope, ctx.ints([-1] + [1] * (rank - 2))])
    if ctx.dtype == np.float32:
        return ctx.node("PRelu", [x, slope])
    # No float64 PRelu kernel at every opset (onnxruntime 1.32 lacks one at 21).
    return _where_positive(ctx, x, x, ctx.node("Mul", [x, slope]))


@register_onnx(Hardtanh)
def _hardtanh(layer: Hardtanh, ctx: OnnxContext, inputs: list[str]) -> str:
    return _clip(ctx, inputs[0], layer.min_val, layer.max_val)


ONNX_CONVERTERS[ReLU6] = _hardtanh


@register_onnx(Hardsigmoid)
def _hardsigmoid(layer: Hardsigmoid, ctx: OnnxContext, inputs: list[str]) -> str:
    shifted = ctx.node("Add", [inputs[0], ctx.constant(3, "three")])  # clip(x + 3, 0, 6) / 6
    return ctx.node("Div", [_clip(ctx, shifted, 0, 6), ctx.constant(6, "six")])


@register_onnx(Hardswish)
def _hardswish(layer: Hardswish, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]  # x · clip(x + 3, 0, 6) / 6
    gate = _clip(ctx, ctx.node("Add", [x, ctx.constant(3, "three")]), 0, 6)
    return ctx.node("Div", [ctx.node("Mul", [x, gate]), ctx.constant(6, "six")])


@register_onnx(Softsign)
def _softsign(layer: Softsign, ctx: OnnxContext, inputs: list[str]) -> str:
    if ctx.dtype == np.float32:
        return ctx.node("Softsign", inputs)
    x = inputs[0]  # x / (1 + |x|): no float64 Softsign kernel
    return ctx.node("Div", [x, ctx.node("Add", [ctx.node("Abs", [x]), ctx.constant(1, "one")])])


@register_onnx(Tanhshrink)
def _tanhshrink(layer: Tanhshrink, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Sub", [inputs[0], ctx.node("Tanh", inputs)])


@register_onnx(Threshold)
def _threshold(layer: Threshold, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]
    below = ctx.node("LessOrEqual", [x, ctx.constant(layer.threshold, "threshold")])
    return ctx.node("Where", [below, ctx.constant(layer.value, "value"), x])


@register_onnx(Softmin)
def _softmin(layer: Softmin, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Softmax", [ctx.node("Neg", inputs)], axis=layer.axis)


@register_onnx(GLU)
def _glu(layer: GLU, ctx: OnnxContext, inputs: list[str]) -> str:
    # Split in two equal halves, of whatever size the axis has at run time: implied by the
    # two outputs before opset 18, the num_outputs attribute from 18 on.
    count = {} if ctx.opset < 18 else {"num_outputs": 2}
    a, b = ctx.node_outputs("Split", inputs, 2, axis=layer.dim, **count)
    return ctx.node("Mul", [a, ctx.node("Sigmoid", [b])])
