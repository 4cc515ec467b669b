"""ONNX converters of the activations. Imported (and so registered) by
`minigrad.export.onnx`.

Where onnxruntime has no float64 kernel for an op (LeakyRelu at opset 20+, Elu,
Softplus), or ONNX has no op at opset 17 (Gelu), the converter spells out minigrad's
formula with basic ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.core import Module
from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext, OnnxConverter, register_onnx
from minigrad.layers.activations import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)


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


@register_onnx(Softplus)
def _softplus(layer: Softplus, ctx: OnnxContext, inputs: list[str]) -> str:
    # minigrad's where(βx > threshold, x, log(1 + e^min(βx, threshold)) / β), spelled
    # with Exp and Log: onnxruntime has no float64 Softplus kernel.
    x = inputs[0]
    scaled = ctx.node("Mul", [x, ctx.constant(layer.beta, "beta")])
    threshold = ctx.constant(layer.threshold, "threshold")
    exp = ctx.node("Exp", [ctx.node("Min", [scaled, threshold])])
    soft = ctx.node("Log", [ctx.node("Add", [exp, ctx.constant(1, "one")])])
    soft = ctx.node("Div", [soft, ctx.constant(layer.beta, "beta")])
    return ctx.node("Where", [ctx.node("Greater", [scaled, threshold]), x, soft])


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
