"""ONNX converters of the N-D layers: convolution, resampling, reshaping, normalization and
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
from minigrad.layers.conv.conv import Conv1D, Conv2D, Conv3D
from minigrad.layers.conv.transposed import ConvTranspose1D, ConvTranspose2D, ConvTranspose3D
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
from minigrad.layers.resampling import PixelShuffle, PixelUnshuffle, Upsample
from minigrad.layers.reshape import Flatten, Reshape, Unflatten

Convolution = Conv1D | Conv2D | Conv3D | ConvTranspose1D | ConvTranspose2D | ConvTranspose3D


def _conv(layer: Convolution, ctx: OnnxContext, inputs: list[str]) -> str:
    before, after = layer._pads  # "same" resolved: the odd extra after, as PyTorch
    x = inputs[0]
    if layer.padding_mode != "zeros":  # a padded copy first, convolved unpadded
        x = mode_pad(ctx, x, layer.padding_mode, before, after)
        before = after = (0,) * len(before)
    attributes: dict[str, Any] = {
        "kernel_shape": list(layer.kernel_size), "strides": list(layer.stride),
        "dilations": list(layer.dilation), "group": layer.groups,
        "pads": [*before, *after],
    }
    if not isinstance(layer, (ConvTranspose1D, ConvTranspose2D, ConvTranspose3D)):
        return ctx.node("Conv", _conv_operands(layer, ctx, x), **attributes)
    extra = [0] * len(before)
    if all(op < s for op, s in zip(layer.output_padding, layer.stride)):
        attributes["output_padding"] = list(layer.output_padding)
    else:  # onnxruntime takes an output_padding below the stride only (PyTorch: below the
        # stride or the dilation). It is the end's padding, less: then zeros past the end.
        extra = [max(op - p, 0) for op, p in zip(layer.output_padding, after)]
        attributes["pads"] = [*before, *(max(p - op, 0) for op, p in
                                         zip(layer.output_padding, after))]
    if not any(extra):
        return ctx.node("ConvTranspose", _conv_operands(layer, ctx, x), **attributes)
    y = ctx.node("ConvTranspose", [x, ctx.parameter(layer.weight)], **attributes)
    y = ctx.node("Pad", [y, ctx.ints([0] * (len(extra) + 2) + [0, 0, *extra], "pads")])
    return y if layer.bias is None else ctx.node(
        "Add", [y, per_channel(ctx, layer.bias, len(extra) + 2)])


def _conv_operands(layer: Convolution, ctx: OnnxContext, x: str) -> list[str]:
    """``x``, the weight and the bias (if any): a Conv's or ConvTranspose's inputs."""
    operands = [x, ctx.parameter(layer.weight)]
    if layer.bias is not None:
        operands.append(ctx.parameter(layer.bias))
    return operands


for _conv_type in (Conv1D, Conv2D, Conv3D, ConvTranspose1D, ConvTranspose2D, ConvTranspose3D):
    ONNX_CONVERTERS[_conv_type] = _conv

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}
"""PyTorch's padding modes as ONNX ``Pad``'s (``wrap`` from opset 19)."""


def mode_pad(ctx: OnnxContext, x: str, mode: str, before: tuple[int, ...],
             after: tuple[int, ...]) -> str:
    """``x (N, C, *size)`` padded on its spatial axes in PyTorch's ``mode``: one ``Pad``,
    or -- circular below opset 19 -- each axis' end and start slices joined around it."""
    if mode != "circular" or ctx.opset >= 19:
        pads = ctx.ints([0, 0, *before, 0, 0, *after], "pads")
        return ctx.node("Pad", [x, pads], mode=_PAD_MODES[mode])
    sizes = ctx.shape(x)[2:]
    for axis, (n, p, q) in enumerate(zip(sizes, before, after), start=2):
        axes = ctx.ints([axis], "axes")
        low = ctx.node("Slice", [x, ctx.ints([n - p], "starts"), ctx.ints([n], "ends"), axes])
        high = ctx.node("Slice", [x, ctx.ints([0], "starts"), ctx.ints([q], "ends"), axes])
        x = ctx.node("Concat", [low, x, high], axis=axis)
    return x


# -- resampling ------------------------------------------------------------------------


@register_onnx(Upsample)
def _upsample(layer: Upsample, ctx: OnnxContext, inputs: list[str]) -> str:
    # Resize with PyTorch's coordinates: nearest reads ⌊i · scale⌋ ("asymmetric", floor),
    # nearest-exact ⌊(i + ½) · scale⌋ ("half_pixel", rounding halves up), linear and
    # cubic "half_pixel" (PyTorch's for every length, which "pytorch_half_pixel" is not for
    # one output) or "align_corners", with Keys' A = −0.75. The scale is
    # the factor's where PyTorch's is (ONNX divides by the given scale), else the sizes'.
    x = inputs[0]
    shape = ctx.shape(x)
    outs, factors = layer.geometry(shape)
    attributes: dict[str, Any] = {"mode": layer.kind.removesuffix("-exact")}
    if layer.kind == "nearest":
        attributes.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif layer.kind == "nearest-exact":
        attributes.update(coordinate_transformation_mode="half_pixel",
                          nearest_mode="round_prefer_ceil")
    else:
        attributes["coordinate_transformation_mode"] = (
            "align_corners" if layer.align_corners else "half_pixel")
        if layer.kind == "cubic":
            attributes.update(cubic_coeff_a=-0.75, exclude_outside=0)
    if all(factor is None for factor in factors):  # (N, C) of x, then the sizes
        sizes = ctx.node("Concat", [ctx.node("Shape", [x], end=2), ctx.ints(outs, "sizes")],
                         axis=0)
        return ctx.node("Resize", [x, "", "", sizes], **attributes)
    # an axis that PyTorch copies (linear, same size) or computes from its sizes (2-D
    # nearest, ×1 or ×2) gets that exact scale
    scales = [out / n if factor is None or (layer.kind == "linear" and out == n) else factor
              for n, out, factor in zip(shape[2:], outs, factors)]
    return ctx.node("Resize", [x, "", ctx.constant([1.0, 1.0, *scales], "scales", np.float32)],
                    **attributes)


def _pixel_shuffle(layer: PixelShuffle | PixelUnshuffle, ctx: OnnxContext,
                   inputs: list[str]) -> str:
    # (*, C·r², H, W) <-> (*, C, H·r, W·r) as in minigrad: a reshape splitting the axes, a
    # transpose, a reshape joining them (ONNX's SpaceToDepth orders channels otherwise).
    x, r = inputs[0], layer.factor
    *lead, channels, h, w = ctx.shape(x)
    if isinstance(layer, PixelShuffle):
        split, order = [-1, channels // (r * r), r, r, h, w], [0, 1, 4, 2, 5, 3]
        joined = [channels // (r * r), h * r, w * r]
    else:
        split, order = [-1, channels, h // r, r, w // r, r], [0, 1, 3, 5, 2, 4]
        joined = [channels * r * r, h // r, w // r]
    moved = ctx.node("Transpose", [ctx.node("Reshape", [x, ctx.ints(split)])], perm=order)
    return ctx.node("Reshape", [moved, ctx.ints([-1, *lead[1:], *joined])])


ONNX_CONVERTERS[PixelShuffle] = _pixel_shuffle
ONNX_CONVERTERS[PixelUnshuffle] = _pixel_shuffle


@register_onnx(Flatten)
def _flatten(layer: Flatten, ctx: OnnxContext, inputs: list[str]) -> str:
    x = inputs[0]
    rank = len(ctx.shape(x))
    start, end = layer.start_dim % rank, layer.end_dim % rank
    if (start, end) == (1, rank - 1):
        return ctx.node("Flatten", inputs, axis=1)  # (N, rest): ONNX's own
    return _reshape_axes(ctx, x, start, end + 1, [-1])


@register_onnx(Unflatten)
def _unflatten(layer: Unflatten, ctx: OnnxContext, inputs: list[str]) -> str:
    axis = layer.dim % len(ctx.shape(inputs[0]))
    return _reshape_axes(ctx, inputs[0], axis, axis + 1, list(layer.unflattened_size))


def _reshape_axes(ctx: OnnxContext, x: str, start: int, stop: int, sizes: list[int]) -> str:
    """``x`` with its axes ``start:stop`` replaced by ``sizes`` (one -1 inferred), the
    others read from ``x``'s shape at run time (so dynamic axes stay dynamic)."""
    shape = ctx.node("Concat", [ctx.node("Shape", [x], end=start), ctx.ints(sizes, "sizes"),
                                ctx.node("Shape", [x], start=stop)], axis=0)
    return ctx.node("Reshape", [x, shape])


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
    rows = ctx.node("Gather", [ctx.parameter(layer.weight), inputs[0]], axis=0)  # W[ids]
    if layer.max_norm is None:
        return rows
    # Renormalized on the fly: the rows minigrad's forward writes back into W, which a
    # second renormalization leaves as they are -- so the outputs agree.
    max_norm = ctx.constant(layer.max_norm, "max_norm")
    norms = _row_norms(ctx, rows, layer.norm_type)
    scale = ctx.node("Div", [max_norm, ctx.node("Add", [norms, ctx.constant(1e-7, "eps")])])
    over = ctx.node("Greater", [norms, max_norm])
    scale = ctx.node("Where", [over, scale, ctx.constant(1, "one")])
    return ctx.node("Mul", [rows, scale])


def _row_norms(ctx: OnnxContext, rows: str, p: float) -> str:
    """The ``p``-norm of each row along the last axis, dims kept."""
    magnitude = ctx.node("Abs", [rows])
    if p == np.inf:
        return ctx.reduce_max(magnitude, [-1], keepdims=True)
    powered = ctx.node("Pow", [magnitude, ctx.constant(p, "p")])
    total = ctx.node("ReduceSum", [powered, ctx.ints([-1], "axes")], keepdims=1)
    return ctx.node("Pow", [total, ctx.constant(1.0 / p, "inverse_p")])


ONNX_INPUT_DTYPES[Embedding] = lambda layer: np.dtype(np.int64)
