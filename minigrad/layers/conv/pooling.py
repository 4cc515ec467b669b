"""Pooling on ``(N, C, *spatial)`` batches: `MaxPool1D`/`MaxPool2D`, `AvgPool1D`/`AvgPool2D`
and `GlobalAvgPool2D`, as PyTorch's (``ceil_mode=False``).

The window kernels are `minigrad.layers.conv.windows`' (a loop over kernel offsets, never over
positions). Output size per axis: ``⌊(size + 2p − k) / s⌋ + 1``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad
from minigrad.layers.conv.windows import (
    Window,
    as_sizes,
    avg_pool,
    avg_pool_backward,
    max_pool,
    max_pool_backward,
    output_size,
)


class _Pool(Layer[Any]):
    """Arguments, input checks and repr shared by the window pooling layers."""

    dims: ClassVar[int]
    axes: ClassVar[tuple[str, ...]]

    def __init__(
        self, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
        padding: int | tuple[int, ...] = 0,
    ) -> None:
        owner = type(self).__name__
        self.kernel_size = as_sizes(owner, "kernel_size", kernel_size, self.dims, 1)
        self.stride = (self.kernel_size if stride is None
                       else as_sizes(owner, "stride", stride, self.dims, 1))
        self.padding = as_sizes(owner, "padding", padding, self.dims, 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{owner}: padding {self.padding} must be at most half the "
                             f"kernel size {self.kernel_size}")

    def _input(self, x: Array) -> tuple[Array, tuple[Window, ...]]:
        x = as_batch(self, x, shape=("batch", "channels", *self.axes))
        windows = []
        for n, k, s, p in zip(tuple(x.shape[2:]), self.kernel_size, self.stride, self.padding):
            if n + 2 * p < k:
                raise ValueError(
                    f"{self!r}: the input after padding ({n + 2 * p}) is smaller than the "
                    f"kernel ({k}), for an input of spatial size "
                    f"{'×'.join(map(str, x.shape[2:]))}"
                )
            windows.append(Window(n, k, s, 1, p, output_size(n, k, s, 1, 2 * p)))
        return x, tuple(windows)

    @override
    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}"
        if self.stride != self.kernel_size:
            text += f", stride={self.stride}"
        if any(self.padding):
            text += f", padding={self.padding}"
        return text


MaxCache = tuple[Array, tuple[Window, ...], tuple[int, ...], np.dtype[Any]]


class _MaxPool(_Pool):
    @override
    def forward(self, x: Array) -> Array:
        x, windows = self._input(x)
        y, which = max_pool(x, windows)
        self.cache = (which, windows, tuple(x.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        which, windows, shape, dtype = self.saved()
        g = as_grad(self, grad_out, tuple(which.shape), dtype)
        return max_pool_backward(g, which, windows, shape)


class _AvgPool(_Pool):
    @override
    def forward(self, x: Array) -> Array:
        x, windows = self._input(x)
        y = avg_pool(x, windows)
        self.cache = (tuple(y.shape), windows, tuple(x.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        out_shape, windows, shape, dtype = self.saved()
        return avg_pool_backward(as_grad(self, grad_out, out_shape, dtype), windows, shape)


class MaxPool1D(_MaxPool):
    """Window maximum over ``(N, C, L)``; as `MaxPool2D` with one spatial axis."""

    dims = 1
    axes = ("length",)


class MaxPool2D(_MaxPool):
    """Window maximum ``(N, C, H, W) -> (N, C, H_out, W_out)``, as PyTorch's ``MaxPool2d``.

    ``y[n, c, h, w] = max_{i, j} x_pad[n, c, h·s + i, w·s + j]``, padding being −∞.
    Backward sends each output's gradient to the input position of its maximum (adding
    where windows overlap): ``dL/dx[argmax] += G``. A tie goes to the *first* maximum in
    the window (row-major), and a NaN wins, exactly as in PyTorch.

    Cache: for each output, which kernel offset held the maximum (int8), the windows,
    the input's shape and dtype.

    Parameters
    ----------
    kernel_size : int or (int, int) >= 1
    stride : int or (int, int) >= 1, default ``kernel_size``
    padding : int or (int, int), default 0
        At most half the kernel size, as PyTorch requires.

    Raises
    ------
    ValueError
        Bad sizes (constructor); an input not ``(N, C, H, W)`` or smaller after padding
        than the kernel; a gradient not of the output's shape. Naming the layer.
    TypeError
        Non-integer sizes; a non-real input.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.MaxPool2D(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    dims = 2
    axes = ("height", "width")


class AvgPool1D(_AvgPool):
    """Window mean over ``(N, C, L)``; as `AvgPool2D` with one spatial axis."""

    dims = 1
    axes = ("length",)


class AvgPool2D(_AvgPool):
    """Window mean ``(N, C, H, W) -> (N, C, H_out, W_out)``, as PyTorch's ``AvgPool2d``
    with its default ``count_include_pad=True``: padding counts as zeros, so every
    window's sum is divided by ``kH·kW``.

    Backward: ``dL/dx[window] += G / (kH·kW)`` for every window.

    Cache: the output's shape, the windows, the input's shape and dtype.

    Parameters, Raises: as `MaxPool2D`.
    """

    dims = 2
    axes = ("height", "width")


class GlobalAvgPool2D(Layer[tuple[tuple[int, ...], np.dtype[Any]]]):
    """Mean over all positions: ``(N, C, H, W) -> (N, C)``, ``y[n, c] = mean_{h,w} x``.

    Backward spreads each gradient evenly: ``dL/dx[n, c, h, w] = G[n, c] / (H·W)`` (a
    read-only broadcast view, no copy).

    Cache: the input's shape and dtype.

    Raises
    ------
    ValueError, TypeError
        An input not ``(N, C, H, W)``, or a gradient not ``(N, C)``, naming the layer.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x, shape=("batch", "channels", "height", "width"))
        self.cache = (tuple(x.shape), x.dtype)
        y: Array = backend.namespace(x).mean(x, axis=(2, 3))
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        shape, dtype = self.saved()
        g = as_grad(self, grad_out, shape[:2], dtype)
        xp = backend.namespace(g)
        share = xp.reshape(g / float(shape[2] * shape[3]), (*shape[:2], 1, 1))
        spread: Array = xp.broadcast_to(share, shape)
        return spread
