"""ONNX converters of the N-D layers: convolution, reshaping, normalization and
`Embedding` (pooling's: `minigrad.export.onnx.pooling`). Imported (and so registered) by
`minigrad.export.onnx`.

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
from minigrad.layers.conv.transposed import ConvTranspose2D
from minigrad.layers.embedding import Embedding
from minigrad.layers.normalization.norms import BatchNorm1D, BatchNorm2D, GroupNorm, LayerNorm
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


@register_onnx(Flatten)
def _flatten(layer: Flatten, ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Flatten", inputs, axis=1)


@register_onnx(Reshape)
def _reshape(layer: Reshape, ctx: OnnxContext, inputs: list[str]) -> str:
    # 0 copies the input's size there: the batch axis stays dynamic.
    return ctx.node("Reshape", [inputs[0], ctx.ints([0, *layer.sample_shape])])


# -- normalization ---------------------------------------------------------------------


def standardize(ctx: OnnxContext, x: str, axes: list[int], eps: float) -> str:
    """``(x − μ) / √(σ² + ε)`` over ``axes``, as minigrad's `standardize` computes it."""
    centered = ctx.node("Sub", [x, ctx.reduce_mean(x, axes)])
    var = ctx.reduce_mean(ctx.node("Mul", [centered, centered]), axes)
    return ctx.node("Div", [centered, ctx.node("Sqrt", [ctx.node(
        "Add", [var, ctx.constant(eps, "eps")])])])


def per_channel(ctx: OnnxContext, value: Parameter | Buffer, rank: int) -> str:
    """A ``(C,)`` parameter or buffer as ``(C, 1, ...)``: broadcast along axis 1 of a
    rank-``rank`` value."""
    return ctx.node("Reshape", [ctx.parameter(value), ctx.ints([-1] + [1] * (rank - 2))])


def per_channel_affine(layer: BatchNorm1D | BatchNorm2D | GroupNorm, ctx: OnnxContext,
                       y: str, rank: int) -> str:
    """``y · γ + β`` with γ, β ``(C,)`` per channel (axis 1)."""
    if layer.weight is None or layer.bias is None:  # affine=False
        return y
    scaled = ctx.node("Mul", [y, per_channel(ctx, layer.weight, rank)])
    return ctx.node("Add", [scaled, per_channel(ctx, layer.bias, rank)])


# ONNX's normalization ops take epsilon as a float32 attribute: for a float64 model
# that would be a different ε, so those are composed in the model's dtype.


def _batch_norm(layer: BatchNorm1D | BatchNorm2D, ctx: OnnxContext, inputs: list[str]) -> str:
    x, rank = inputs[0], len(ctx.shape(inputs[0]))
    mean, var = layer.running_mean, layer.running_var
    if mean is None or var is None:
        # track_running_stats=False: the batch's own statistics, in evaluation too.
        y = standardize(ctx, x, [0, *range(2, rank)], layer.eps)
    elif ctx.dtype != np.float32:
        centered = ctx.node("Sub", [x, per_channel(ctx, mean, rank)])
        std = ctx.node("Sqrt", [ctx.node("Add", [per_channel(ctx, var, rank),
                                                 ctx.constant(layer.eps, "eps")])])
        y = ctx.node("Div", [centered, std])
    else:
        channels = layer.num_features
        scale = (ctx.parameter(layer.weight) if layer.weight is not None
                 else ctx.constant(np.ones(channels), "ones"))
        shift = (ctx.parameter(layer.bias) if layer.bias is not None
                 else ctx.constant(np.zeros(channels), "zeros"))
        return ctx.node("BatchNormalization", [x, scale, shift, ctx.parameter(mean),
                                               ctx.parameter(var)], epsilon=layer.eps)
    return per_channel_affine(layer, ctx, y, rank)


ONNX_CONVERTERS[BatchNorm1D] = _batch_norm
ONNX_CONVERTERS[BatchNorm2D] = _batch_norm


@register_onnx(LayerNorm)
def _layer_norm(layer: LayerNorm, ctx: OnnxContext, inputs: list[str]) -> str:
    shape, x = layer.normalized_shape, inputs[0]
    if ctx.dtype != np.float32:
        rank = len(ctx.shape(x))
        y = standardize(ctx, x, list(range(rank - len(shape), rank)), layer.eps)
        if layer.weight is None or layer.bias is None:
            return y
        # γ, β of the normalized shape broadcast against the trailing axes as they are.
        return ctx.node("Add", [ctx.node("Mul", [y, ctx.parameter(layer.weight)]),
                                ctx.parameter(layer.bias)])
    operands = [x, ctx.parameter(layer.weight) if layer.weight is not None
                else ctx.constant(np.ones(shape), "ones")]
    if layer.bias is not None:
        operands.append(ctx.parameter(layer.bias))
    return ctx.node("LayerNormalization", operands, axis=-len(shape), epsilon=layer.eps)


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
