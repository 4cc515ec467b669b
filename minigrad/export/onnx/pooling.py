"""ONNX converters of the pooling layers (`minigrad.layers.conv`'s `pooling`, `adaptive`
and `unpooling`). Imported (and so registered) by `minigrad.export.onnx`.

* window pools -> ``MaxPool`` / ``AveragePool`` with their attributes (``ceil_mode``,
  ``dilations``, ``count_include_pad``); ``divisor_override``, which ONNX lacks, as the
  window sums (``AveragePool`` without the padding, times each window's count of input
  values) over the divisor;
* a `MaxPool2D` with ``return_indices`` -> ``MaxPool`` with its second output,
  ``Indices``, which the ``MaxUnpool`` of a `MaxUnpool2D` reading that pool consumes
  (ONNX's indices count the batch and channel axes too -- both ops agree);
* adaptive pools -> ``GlobalAveragePool``/``GlobalMaxPool`` for an output of 1; else,
  for the spatial sizes of the export's input shape (they are fixed in the graph), one
  step per spatial axis: the mean a ``MatMul`` with the averaging matrix, the maximum a
  ``Gather`` of the padded windows and a ``ReduceMax`` -- the axis moved last each time,
  as the layers compute it (`minigrad.layers.conv.adaptive`).
"""

from __future__ import annotations

import weakref
from typing import Any

from minigrad.export.onnx.convert import ONNX_CONVERTERS, OnnxContext
from minigrad.layers.conv.adaptive import (
    AdaptiveAvgPool1D,
    AdaptiveAvgPool2D,
    AdaptiveAvgPool3D,
    AdaptiveMaxPool1D,
    AdaptiveMaxPool2D,
    AdaptiveMaxPool3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
)
from minigrad.layers.conv.pool_windows import (
    averaging_matrix,
    divisors,
    pool_windows,
    window_table,
)
from minigrad.layers.conv.pooling import (
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
)
from minigrad.layers.conv.unpooling import MaxUnpool1D, MaxUnpool2D, MaxUnpool3D

MaxPool = MaxPool1D | MaxPool2D | MaxPool3D
AvgPool = AvgPool1D | AvgPool2D | AvgPool3D
AdaptivePool = (AdaptiveAvgPool1D | AdaptiveAvgPool2D | AdaptiveAvgPool3D | AdaptiveMaxPool1D
                | AdaptiveMaxPool2D | AdaptiveMaxPool3D)
MaxUnpool = MaxUnpool1D | MaxUnpool2D | MaxUnpool3D

_INDICES: weakref.WeakKeyDictionary[OnnxContext, dict[int, str]] = weakref.WeakKeyDictionary()
"""Per export: ``id(pool) ->`` the name of its ``Indices`` output, for `_max_unpool`."""


def _window_attributes(layer: MaxPool | AvgPool) -> dict[str, Any]:
    return {"kernel_shape": list(layer.kernel_size), "strides": list(layer.stride),
            "pads": [*layer.padding, *layer.padding], "ceil_mode": int(layer.ceil_mode)}


def _max_pool(layer: MaxPool, ctx: OnnxContext, inputs: list[str]) -> str:
    # minigrad pads max pooling with −∞, as ONNX's MaxPool does.
    attributes = {**_window_attributes(layer), "dilations": list(layer.dilation)}
    if not layer.return_indices:
        return ctx.node("MaxPool", inputs, **attributes)
    values, indices = ctx.node_outputs("MaxPool", inputs, 2, **attributes)
    _INDICES.setdefault(ctx, {})[id(layer)] = indices
    return values


def _avg_pool(layer: AvgPool, ctx: OnnxContext, inputs: list[str]) -> str:
    override = getattr(layer, "divisor_override", None)
    if override is None:
        return ctx.node("AveragePool", inputs, **_window_attributes(layer),
                        count_include_pad=int(layer.count_include_pad))
    # sum = (mean over the input values) · (their count); then / divisor_override.
    windows = pool_windows(layer, ctx.shape(inputs[0])[2:], layer.kernel_size,
                           layer.stride, (1,) * len(layer.kernel_size), layer.padding,
                           layer.ceil_mode)
    scale = divisors(windows, count_include_pad=False) / override
    mean = ctx.node("AveragePool", inputs, **_window_attributes(layer), count_include_pad=0)
    return ctx.node("Mul", [mean, ctx.constant(scale[None, None], "divisor_scale")])


def _max_unpool(layer: MaxUnpool, ctx: OnnxContext, inputs: list[str]) -> str:
    pool = layer.indices_from
    indices = None if pool is None else _INDICES.get(ctx, {}).get(id(pool))
    if indices is None:
        raise TypeError(f"to_onnx: {layer!r} needs its indices_from pool converted before it, "
                        "in the same model (a MaxUnpool reads that pool's indices)")
    operands = [inputs[0], indices]
    if layer.output_size is not None:
        # MaxUnpool's output_shape is the whole shape: the input's (N, C), then the sizes.
        batch_and_channels = ctx.node("Shape", inputs, start=0, end=2)
        operands.append(ctx.node("Concat", [batch_and_channels, ctx.ints(layer.output_size)],
                                 axis=0))
    return ctx.node("MaxUnpool", operands, kernel_shape=list(layer.kernel_size),
                    strides=list(layer.stride), pads=[*layer.padding, *layer.padding])


def _first_spatial_last(ctx: OnnxContext, x: str, rank: int) -> str:
    """``(N, C, L, *rest) -> (N, C, *rest, L)``: the next axis to pool, moved last."""
    return ctx.node("Transpose", [x], perm=[0, 1, *range(3, rank), 2])


def _adaptive_pool(layer: AdaptivePool, ctx: OnnxContext, inputs: list[str]) -> str:
    sizes = ctx.shape(inputs[0])[2:]
    outs = [n if o is None else o for n, o in zip(sizes, layer.output_size)]
    is_max = isinstance(layer, (AdaptiveMaxPool1D, AdaptiveMaxPool2D, AdaptiveMaxPool3D))
    if all(o == 1 for o in outs):
        return ctx.node("GlobalMaxPool" if is_max else "GlobalAveragePool", inputs)
    rank, x = len(sizes) + 2, inputs[0]
    for size, out in zip(sizes, outs):
        x = _first_spatial_last(ctx, x, rank)
        if size == out:
            continue
        if not is_max:  # (..., L) @ Aᵀ (L, out)
            x = ctx.node("MatMul", [x, ctx.constant(averaging_matrix(size, out, ctx.dtype).T,
                                                    "averaging")])
            continue
        table = window_table(size, out)  # (out, longest) positions along the axis
        gathered = ctx.node("Gather", [x, ctx.ints(table.reshape(-1).tolist(), "windows")],
                            axis=rank - 1)
        split = ctx.node("Reshape", [gathered, ctx.ints([0] * (rank - 1) + list(table.shape))])
        x = ctx.reduce_max(split, [rank], keepdims=False)  # each window's maximum
    return x


def _global_avg_pool(layer: GlobalAvgPool1D | GlobalAvgPool2D | GlobalAvgPool3D,
                     ctx: OnnxContext, inputs: list[str]) -> str:
    return ctx.node("Flatten", [ctx.node("GlobalAveragePool", inputs)], axis=1)  # (N, C)


_CONVERTERS: list[tuple[tuple[type[Any], ...], Any]] = [
    ((MaxPool1D, MaxPool2D, MaxPool3D), _max_pool),
    ((AvgPool1D, AvgPool2D, AvgPool3D), _avg_pool),
    ((MaxUnpool1D, MaxUnpool2D, MaxUnpool3D), _max_unpool),
    ((AdaptiveAvgPool1D, AdaptiveAvgPool2D, AdaptiveAvgPool3D, AdaptiveMaxPool1D,
      AdaptiveMaxPool2D, AdaptiveMaxPool3D), _adaptive_pool),
    ((GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D), _global_avg_pool),
]
for _types, _converter in _CONVERTERS:
    for _type in _types:
        ONNX_CONVERTERS[_type] = _converter
