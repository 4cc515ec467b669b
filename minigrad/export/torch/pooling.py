"""Torch converters of the pooling layers. Imported (and so registered) by
`minigrad.export.torch`.

Each pool becomes its ``torch.nn`` namesake with the same options (``nn.MaxPool3d``,
``nn.AdaptiveAvgPool2d``...); the global means a ``mean`` over the spatial axes. A max
pool with ``return_indices`` becomes `IndexedMaxPool`, which returns its values and keeps
its indices, as minigrad's; a `MaxUnpool2D` reading it becomes `UnpoolFrom`, which reads
them (without ``indices_from``: a plain ``nn.MaxUnpool2d``, called with the indices).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from minigrad.export.torch.convert import TORCH_CONVERTERS, Convert
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
from minigrad.layers.conv.pooling import (
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
)
from minigrad.layers.conv.unpooling import MaxUnpool1D, MaxUnpool2D, MaxUnpool3D


class MeanOverPositions(nn.Module):
    """minigrad's `GlobalAvgPool1D`/`2D`/`3D`: ``(N, C, ...) -> (N, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=tuple(range(2, x.dim())))


class IndexedMaxPool(nn.Module):
    """A max pool made with ``return_indices=True`` (``pool``) that returns its values and
    keeps the latest ``indices``, as minigrad's max pools do."""

    indices: torch.Tensor | None

    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        self.pool = pool
        self.indices = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, self.indices = self.pool(x)
        out: torch.Tensor = values
        return out


class UnpoolFrom(nn.Module):
    """``unpool(x, indices of source, output_size)``: minigrad's max unpooling with
    ``indices_from``. The source is held in a tuple: a reference, not a sub-module (it
    is the model's own, elsewhere)."""

    def __init__(self, unpool: nn.Module, source: IndexedMaxPool,
                 output_size: tuple[int, ...] | None) -> None:
        super().__init__()
        self.unpool = unpool
        self.source = (source,)
        self.output_size = output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.unpool(x, self.source[0].indices, self.output_size)
        return out


_MAX = {MaxPool1D: nn.MaxPool1d, MaxPool2D: nn.MaxPool2d, MaxPool3D: nn.MaxPool3d}
_AVG = {AvgPool1D: nn.AvgPool1d, AvgPool2D: nn.AvgPool2d, AvgPool3D: nn.AvgPool3d}
_ADAPTIVE: dict[type[Any], Any] = {
    AdaptiveAvgPool1D: nn.AdaptiveAvgPool1d, AdaptiveAvgPool2D: nn.AdaptiveAvgPool2d,
    AdaptiveAvgPool3D: nn.AdaptiveAvgPool3d, AdaptiveMaxPool1D: nn.AdaptiveMaxPool1d,
    AdaptiveMaxPool2D: nn.AdaptiveMaxPool2d, AdaptiveMaxPool3D: nn.AdaptiveMaxPool3d}
_UNPOOL = {MaxUnpool1D: nn.MaxUnpool1d, MaxUnpool2D: nn.MaxUnpool2d, MaxUnpool3D: nn.MaxUnpool3d}


def _max_pool(layer: MaxPool1D | MaxPool2D | MaxPool3D, convert: Convert) -> nn.Module:
    pool: nn.Module = _MAX[type(layer)](layer.kernel_size, layer.stride, layer.padding,
                                        layer.dilation, layer.return_indices, layer.ceil_mode)
    return IndexedMaxPool(pool) if layer.return_indices else pool


def _avg_pool(layer: AvgPool1D | AvgPool2D | AvgPool3D, convert: Convert) -> nn.Module:
    options: dict[str, Any] = {"ceil_mode": layer.ceil_mode,
                               "count_include_pad": layer.count_include_pad}
    if layer.divisor_override is not None:  # AvgPool1D has none: PyTorch's has none
        options["divisor_override"] = layer.divisor_override
    module: nn.Module = _AVG[type(layer)](layer.kernel_size, layer.stride, layer.padding,
                                          **options)
    return module


def _adaptive(layer: Any, convert: Convert) -> nn.Module:
    module: nn.Module = _ADAPTIVE[type(layer)](layer.output_size)
    return module


def _max_unpool(layer: MaxUnpool1D | MaxUnpool2D | MaxUnpool3D, convert: Convert) -> nn.Module:
    make: Any = _UNPOOL[type(layer)]
    unpool: nn.Module = make(layer.kernel_size, layer.stride, layer.padding)
    if layer.indices_from is None:
        return unpool
    source = convert(layer.indices_from)  # the model's own pool module (memoized)
    assert isinstance(source, IndexedMaxPool)  # return_indices, checked by the layer
    return UnpoolFrom(unpool, source, layer.output_size)


_CONVERTERS: list[tuple[tuple[type[Any], ...], Any]] = [
    (tuple(_MAX), _max_pool),
    (tuple(_AVG), _avg_pool),
    (tuple(_ADAPTIVE), _adaptive),
    (tuple(_UNPOOL), _max_unpool),
    ((GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D),
     lambda layer, convert: MeanOverPositions()),
]
for _types, _converter in _CONVERTERS:
    for _type in _types:
        TORCH_CONVERTERS[_type] = _converter
