"""ONNX converters of the N-D layers: convolution, pooling, reshaping, normalization and
`Embedding`. Imported (and so registered) by `minigrad.export.onnx`.

minigrad's N-D layers use PyTorch's layouts, which are ONNX's: NCHW batches, convolution
weights ``(C_out, C_in / groups, kH, kW)`` (``(C_in, C_out / groups, ...)`` transposed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.core import Buffer, Parameter
from minigrad.export.onnx.convert import (
    ONNX_CONVERTERS,
    ONNX_INPUT_DTYPES,
    OnnxContext,
    register_onnx,
)
from minigrad.layers.conv.conv import Conv1D, Conv2D
from minigrad.layers.conv.pooling import (
    AvgPool1D,
    AvgPool2D,
    GlobalAvgPool2D,
    MaxPool1D,
    MaxPool2D,
)
from minigrad.layers.conv.transposed import ConvTranspose2D
from minigrad.layers.embedding import Embedding
from minigrad.layers.normalization import (
    BatchNorm1D,
    BatchNorm2D,
    BatchNorm3D,
    GroupNorm,
    InstanceNorm1D,
    InstanceNorm2D,
    InstanceNorm3D,
    LayerNorm,
    RMSNorm,
)
from minigrad.layers.reshape import Flatten, Reshape


def _conv(layer: Conv1D | Conv2D | ConvTranspose2D, ctx: OnnxContext, inputs: list[str]) -> str:
    before, after = layer._pads  # "same" resolved: the odd extra after, as PyTorch
    attributes: dict[str, Any] = {
        "kernel_shape": list(layer.kernel_size), "strides": list(layer.stride),
        "dilations": list(layer.dilation), "group": layer.groups,
        "pads": [*before, *after],
    }
    op = "Conv"
    if isinstance(layer, ConvTranspose2D):
        op, attributes["output_padding"] = "ConvTranspose", list(layer.output_padding)
    operands = [inputs[0], ctx.parameter(layer.weight)]
    if layer.bias is not None:
        operands.append(ctx.parameter(layer.bias))
    return ctx.node(op, operands, **attributes)


for _conv_type in (Conv1D, Conv2D, ConvTranspose2D):
    ONNX_CONVERTERS[_conv_type] = _conv


def _pool(op: str, **extra: int) -> Any:
    def convert(layer: MaxPool2D | AvgPool2D, ctx: OnnxContext, inputs: list[str]) -> str:
        # minigrad pads max-pooling with −∞ and counts average-pooling's padding as
        # zeros in every window (count_include_pad), as these ONNX ops do with these
        # attributes.
        return ctx.node(op, inputs, kernel_shape=list(layer.kernel_size),
                        strides=list(layer.stride), pads=[*layer.padding, *layer.padding],
                        **extra)

    return convert


for _pool_type, _op, _extra in ((MaxPool1D, "MaxPool", {}), (MaxPool2D, "MaxPool", {}),
                                (AvgPool1D, "AveragePool", {"count_include_pad": 1}),
                                (AvgPool2D, "AveragePool", {"count_include_pad": 1})):
    ONNX_CONVERTERS[_pool_type] = _pool(_op, **_extra)


@register_onnx(GlobalAvgPool2D)
def _global_avg_pool(layer: GlobalAvgPool2D, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Flatten", [ctx.node("GlobalAveragePool", inputs)], axis=1)  # (N, C)


@register_onnx(Flatten)
def _flatten(layer: Flatten, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Flatten", inputs, axis=1)


@register_onnx(Reshape)
def _reshape(layer: Reshape, ctx: OnnxContext, inputs: list[str]) -> str:
    # 0 copies the input's size there: the batch axis stays dynamic.
    return ctx.node("Reshape", [inputs[0], ctx.ints([0, *layer.sample_shape])])


# -- normalization ---------------------------------------------------------------------


ChannelNorm = (BatchNorm1D | BatchNorm2D | BatchNorm3D | InstanceNorm1D | InstanceNorm2D
               | InstanceNorm3D | GroupNorm)
"""The layers normalizing (N, C, *) per channel, with γ, β ``(C,)``."""


def standardize(ctx: OnnxContext, x: str, axes: list[int], eps: float) -> str:
    """``(x − μ) / √(σ² + ε)`` over ``axes``, as minigrad's `standardize` computes it."""
    centered = ctx.node("Sub", [x, ctx.reduce_mean(x, axes)])
    return divide_by_rms(ctx, centered, axes, eps)


def divide_by_rms(ctx: OnnxContext, x: str, axes: list[int], eps: float) -> str:
    """``x / √(mean(x²) + ε)`` over ``axes``: the standardization of centred values, and
    RMS normalization."""
    mean_square = ctx.reduce_mean(ctx.node("Mul", [x, x]), axes)
    return ctx.node("Div", [x, ctx.node("Sqrt", [ctx.node(
        "Add", [mean_square, ctx.constant(eps, "eps")])])])


def per_channel(ctx: OnnxContext, value: Parameter | Buffer, rank: int) -> str:
    """A ``(C,)`` parameter or buffer as ``(C, 1, ...)``: broadcast along axis 1 of a
    rank-``rank`` value."""
    return ctx.node("Reshape", [ctx.parameter(value), ctx.ints([-1] + [1] * (rank - 2))])


def per_channel_affine(layer: ChannelNorm, ctx: OnnxContext, y: str, rank: int) -> str:
    """``y · γ + β`` with γ, β ``(C,)`` per channel (axis 1), each where the layer has it."""
    if layer.weight is not None:
        y = ctx.node("Mul", [y, per_channel(ctx, layer.weight, rank)])
    if layer.bias is not None:
        y = ctx.node("Add", [y, per_channel(ctx, layer.bias, rank)])
    return y


def affine_operands(layer: ChannelNorm | LayerNorm, ctx: OnnxContext,
                    shape: tuple[int, ...]) -> tuple[str, str]:
    """γ and β as the inputs of ONNX's normalization ops: ones and zeros of ``shape``
    where the layer has none."""
    scale = (ctx.parameter(layer.weight) if layer.weight is not None
             else ctx.constant(np.ones(shape), "ones"))
    shift = (ctx.parameter(layer.bias) if layer.bias is not None
             else ctx.constant(np.zeros(shape), "zeros"))
    return scale, shift


# ONNX's normalization ops take epsilon as a float32 attribute: for a float64 model
# that would be a different ε, so those are composed in the model's dtype.


def _running_norm(layer: BatchNorm1D | BatchNorm2D | BatchNorm3D | InstanceNorm1D
                  | InstanceNorm2D | InstanceNorm3D, ctx: OnnxContext,
                  inputs: list[str]) -> str:
    """Batch and instance norms: their running statistics where they track them (what
    evaluation mode uses), else the statistics of the batch (batch norm) or of each
    sample's channel (instance norm)."""
    x, rank = inputs[0], len(ctx.shape(inputs[0]))
    mean, var = layer.running_mean, layer.running_var
    per_sample = isinstance(layer, (InstanceNorm1D, InstanceNorm2D, InstanceNorm3D))
    if mean is None or var is None:
        if per_sample and ctx.dtype == np.float32:
            return ctx.node("InstanceNormalization",
                            [x, *affine_operands(layer, ctx, (layer.num_features,))],
                            epsilon=layer.eps)
        axes = list(range(2, rank)) if per_sample else [0, *range(2, rank)]
        y = standardize(ctx, x, axes, layer.eps)
    elif ctx.dtype != np.float32:
        centered = ctx.node("Sub", [x, per_channel(ctx, mean, rank)])
        std = ctx.node("Sqrt", [ctx.node("Add", [per_channel(ctx, var, rank),
                                                 ctx.constant(layer.eps, "eps")])])
        y = ctx.node("Div", [centered, std])
    else:
        return ctx.node("BatchNormalization",
                        [x, *affine_operands(layer, ctx, (layer.num_features,)),
                         ctx.parameter(mean), ctx.parameter(var)], epsilon=layer.eps)
    return per_channel_affine(layer, ctx, y, rank)


for _type in (BatchNorm1D, BatchNorm2D, BatchNorm3D, InstanceNorm1D, InstanceNorm2D,
              InstanceNorm3D):
    ONNX_CONVERTERS[_type] = _running_norm


@register_onnx(LayerNorm)
def _layer_norm(layer: LayerNorm, ctx: OnnxContext, inputs: list[str]) -> str:
    shape, x = layer.normalized_shape, inputs[0]
    if ctx.dtype != np.float32:
        rank = len(ctx.shape(x))
        y = standardize(ctx, x, list(range(rank - len(shape), rank)), layer.eps)
        return trailing_affine(layer, ctx, y)
    operands = [x, affine_operands(layer, ctx, shape)[0]]
    if layer.bias is not None:  # an optional input: no β, no addition
        operands.append(ctx.parameter(layer.bias))
    return ctx.node("LayerNormalization", operands, axis=-len(shape), epsilon=layer.eps)


def trailing_affine(layer: LayerNorm | RMSNorm, ctx: OnnxContext, y: str) -> str:
    """``y · γ + β`` with γ, β of the normalized shape, broadcast against the trailing
    axes as they are; each where the layer has it."""
    if layer.weight is not None:
        y = ctx.node("Mul", [y, ctx.parameter(layer.weight)])
    if layer.bias is not None:
        y = ctx.node("Add", [y, ctx.parameter(layer.bias)])
    return y


@register_onnx(RMSNorm)
def _rms_norm(layer: RMSNorm, ctx: OnnxContext, inputs: list[str]) -> str:
    # Composed at every opset: RMSNormalization is new in opset 23.
    x, k = inputs[0], len(layer.normalized_shape)
    rank = len(ctx.shape(x))
    eps = layer.eps if layer.eps is not None else float(np.finfo(ctx.dtype).eps)
    return trailing_affine(layer, ctx, divide_by_rms(ctx, x, list(range(rank - k, rank)), eps))


@register_onnx(GroupNorm)
def _group_norm(layer: GroupNorm, ctx: OnnxContext, inputs: list[str]) -> str:
    # Composed at every opset: GroupNormalization (18) changed its affine's shape in 21,
    # and onnxruntime has no float64 InstanceNormalization. (N, G, rest) standardized
    # over the last axis, back to x's shape, then γ and β per channel.
    x = inputs[0]
    grouped = ctx.node("Reshape", [x, ctx.ints([0, layer.num_groups, -1])])
    y = standardize(ctx, grouped, [2], layer.eps)
    y = ctx.node("Reshape", [y, ctx.node("Shape", [x])])
    return per_channel_affine(layer, ctx, y, len(ctx.shape(x)))


# -- embedding -------------------------------------------------------------------------


@register_onnx(Embedding)
def _embedding(layer: Embedding, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Gather", [ctx.parameter(layer.weight), inputs[0]], axis=0)  # W[ids]


ONNX_INPUT_DTYPES[Embedding] = lambda layer: np.dtype(np.int64)
