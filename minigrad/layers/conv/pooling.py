"""Window pooling on ``(N, C, *spatial)`` batches, one implementation for 1, 2 and 3
spatial axes: `MaxPool1D`/`MaxPool2D`/`MaxPool3D` and `AvgPool1D`/`AvgPool2D`/`AvgPool3D`,
as PyTorch's, with all of their options.

The window kernels (a loop over kernel offsets, never over positions) and the geometry
PyTorch adds -- ``ceil_mode``'s output size, the average's divisors, the maximum's flat
indices -- are `minigrad.layers.conv.pool_windows`'. Output
size per axis: ``⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1`` (``⌈·⌉`` with ``ceil_mode``, the
last window starting inside the input or the left padding).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad
from minigrad.core import check_bool as check_flag  # the library's one flag check
from minigrad.layers.conv.pool_windows import (
    avg_pool,
    avg_pool_backward,
    divisors,
    flat_indices,
    max_pool,
    max_pool_backward,
    max_pool_values,
    pool_windows,
)
from minigrad.layers.conv.windows import Window, as_sizes

SPATIAL_AXES: dict[int, tuple[str, ...]] = {
    1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
"""The names of the spatial axes of an input with 1, 2 or 3 of them (for messages)."""

Sizes = int | tuple[int, ...]


def window_arguments(owner: str, dims: int, kernel_size: Sizes, stride: Sizes | None,
                     padding: Sizes) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A pooling or unpooling layer's ``kernel_size``, ``stride`` (default: the kernel
    size, as PyTorch's) and ``padding``, one entry per spatial axis, checked."""
    kernel = as_sizes(owner, "kernel_size", kernel_size, dims, 1)
    strides = kernel if stride is None else as_sizes(owner, "stride", stride, dims, 1)
    return kernel, strides, as_sizes(owner, "padding", padding, dims, 0)


def window_repr(kernel_size: tuple[int, ...], stride: tuple[int, ...],
                padding: tuple[int, ...]) -> str:
    """The ``extra_repr`` of those three: the stride and padding where not the defaults."""
    text = f"kernel_size={kernel_size}"
    if stride != kernel_size:
        text += f", stride={stride}"
    if any(padding):
        text += f", padding={padding}"
    return text


class _Pool(Layer[Any]):
    """Arguments, input checks and repr shared by the window pooling layers."""

    dims: ClassVar[int]
    dilation: tuple[int, ...]

    def __init__(self, kernel_size: Sizes, stride: Sizes | None, padding: Sizes,
                 dilation: Sizes, ceil_mode: bool) -> None:
        owner = type(self).__name__
        self.kernel_size, self.stride, self.padding = window_arguments(
            owner, self.dims, kernel_size, stride, padding)
        self.dilation = as_sizes(owner, "dilation", dilation, self.dims, 1)
        self.ceil_mode = check_flag(owner, "ceil_mode", ceil_mode)
        # PyTorch's limit: at most half the (dilated) kernel, so a window meets the input.
        halves = tuple((d * (k - 1) + 1) // 2 for k, d in zip(self.kernel_size, self.dilation))
        if any(p > h for p, h in zip(self.padding, halves)):
            raise ValueError(f"{owner}: padding {self.padding} must be at most half the "
                             f"(dilated) kernel size, {halves}")

    def _input(self, x: Array) -> tuple[Array, tuple[Window, ...]]:
        x = as_batch(self, x, shape=("batch", "channels", *SPATIAL_AXES[self.dims]))
        return x, pool_windows(self, tuple(x.shape[2:]), self.kernel_size, self.stride,
                               self.dilation, self.padding, self.ceil_mode)

    @override
    def extra_repr(self) -> str:
        text = window_repr(self.kernel_size, self.stride, self.padding)
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.ceil_mode:
            text += ", ceil_mode=True"
        return text


MaxCache = tuple[Array | None, tuple[Window, ...], tuple[int, ...], np.dtype[Any], Array | None]
"""Which kernel offset held each maximum, the windows, the input's shape and dtype --
and after an evaluation-mode forward, no offsets but the input, to find them from if
a backward asks."""


class _MaxPool(_Pool):
    indices: Array | None = None

    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0,
                 dilation: Sizes = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = check_flag(type(self).__name__, "return_indices", return_indices)

    @override
    def forward(self, x: Array) -> Array:
        x, windows = self._input(x)
        if not (self.training or self.return_indices):  # the maxima alone: no backward asks
            self.cache = (None, windows, tuple(x.shape), x.dtype, x)
            return max_pool_values(x, windows)
        y, which = max_pool(x, windows)
        self.cache = (which, windows, tuple(x.shape), x.dtype, None)
        if self.return_indices:
            self.indices = flat_indices(which, windows)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        which, windows, shape, dtype, x = self.saved()
        if which is None:  # a backward after an evaluation-mode forward: find them now
            assert x is not None
            which = max_pool(x, windows)[1]
            self.cache = (which, windows, shape, dtype, None)
        g = as_grad(self, grad_out, tuple(which.shape), dtype)
        return max_pool_backward(g, which, windows, shape)

    @override
    def extra_repr(self) -> str:
        return super().extra_repr() + (", return_indices=True" if self.return_indices else "")


class _AvgPool(_Pool):
    dims: ClassVar[int]

    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        owner = type(self).__name__
        self.count_include_pad = check_flag(owner, "count_include_pad", count_include_pad)
        if divisor_override is not None and (
                isinstance(divisor_override, (bool, np.bool_))
                or not isinstance(divisor_override, (int, np.integer)) or divisor_override < 1):
            raise ValueError(f"{owner}: divisor_override must be None or an int >= 1, "
                             f"got {divisor_override!r}")
        self.divisor_override = None if divisor_override is None else int(divisor_override)

    def _rescale(self, windows: tuple[Window, ...], like: Array) -> Array | float | None:
        """What `pool_windows.avg_pool`'s mean over the whole kernel is multiplied by to be
        the mean PyTorch takes: ``∏k / divisor`` -- None (no pass at all) where every
        divisor is the kernel's size, the default's usual case."""
        kernel = float(np.prod(self.kernel_size))
        if self.divisor_override is not None:
            return kernel / self.divisor_override
        divisor = divisors(windows, self.count_include_pad)
        if (divisor == kernel).all():
            return None
        scale = (kernel / divisor).astype(backend.numpy_dtype(like.dtype))
        moved: Array = backend.asarray_like(scale, like)
        return moved

    @override
    def forward(self, x: Array) -> Array:
        x, windows = self._input(x)
        scale = self._rescale(windows, x)
        y = avg_pool(x, windows)
        if scale is not None:
            y = y * scale
        self.cache = (tuple(y.shape), windows, scale, tuple(x.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        out_shape, windows, scale, shape, dtype = self.saved()
        g = as_grad(self, grad_out, out_shape, dtype)
        return avg_pool_backward(g if scale is None else g * scale, windows, shape)

    @override
    def extra_repr(self) -> str:
        text = super().extra_repr()
        if not self.count_include_pad:
            text += ", count_include_pad=False"
        if self.divisor_override is not None:
            text += f", divisor_override={self.divisor_override}"
        return text


class MaxPool1D(_MaxPool):
    """Window maximum over ``(N, C, L)``; as `MaxPool2D` with one spatial axis, as
    PyTorch's ``MaxPool1d``."""

    dims = 1


class MaxPool2D(_MaxPool):
    """Window maximum ``(N, C, H, W) -> (N, C, H_out, W_out)``, as PyTorch's ``MaxPool2d``.

    ``y[n, c, h, w] = max_{i, j} x_pad[n, c, h·s + i·d, w·s + j·d]``, padding being −∞.
    Backward sends each output's gradient to the input position of its maximum (adding
    where windows overlap): ``dL/dx[argmax] += G``. A tie goes to the *first* maximum in
    the window (row-major), and a NaN wins, exactly as in PyTorch.

    Output size per axis: ``⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1``; with ``ceil_mode``
    rounded up, unless that last window would start in the right padding.

    Cache: for each output, which kernel offset held the maximum (int8), the windows,
    the input's shape and dtype; in evaluation mode the input instead of the offsets,
    found only if a backward asks.

    Parameters
    ----------
    kernel_size : int or (int, int) >= 1
    stride : int or (int, int) >= 1, default ``kernel_size``
    padding : int or (int, int), default 0
        At most half the dilated kernel size, ``(d·(k − 1) + 1) // 2``, as PyTorch
        requires.
    dilation : int or (int, int) >= 1, default 1
        The spacing of the window's positions.
    return_indices : bool, default False
        Also compute, in each forward, PyTorch's indices of the maxima: the attribute
        ``indices`` (int64, the output's shape) holds the latest forward's, each the
        position in its own sample and channel's flattened spatial axes (``h·W + w``).
        The output stays one array (a `Layer` returns one); `MaxUnpool2D` reads them.
    ceil_mode : bool, default False
        Round the output size up (a last, partial window).

    Attributes
    ----------
    indices : ndarray of int64 or None
        With ``return_indices``: the latest forward's indices (None before any).

    Raises
    ------
    ValueError
        Bad sizes (constructor); an input not ``(N, C, H, W)``, one whose output would
        be empty, or one where a window would hold padding only (PyTorch returns −∞
        there); a gradient not of the output's shape. Naming the layer.
    TypeError
        Non-integer sizes, a non-bool flag; a non-real input.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.MaxPool2D(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> pool = mg.MaxPool2D(2, return_indices=True)
    >>> _ = pool(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> pool.indices
    array([[[[ 5,  7],
             [13, 15]]]])
    """

    dims = 2


class MaxPool3D(_MaxPool):
    """Window maximum over ``(N, C, D, H, W)``; as `MaxPool2D` with three spatial axes, as
    PyTorch's ``MaxPool3d`` (``indices`` index ``d·H·W + h·W + w``)."""

    dims = 3


class AvgPool1D(_AvgPool):
    """Window mean over ``(N, C, L)``; as `AvgPool2D` with one spatial axis, as PyTorch's
    ``AvgPool1d`` -- which has no ``divisor_override``, so neither has this."""

    dims = 1

    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2D(_AvgPool):
    """Window mean ``(N, C, H, W) -> (N, C, H_out, W_out)``, as PyTorch's ``AvgPool2d``.

    ``y = (sum of the window's values) / divisor``, padding counting as zeros. The
    divisor, as PyTorch's: ``divisor_override`` if given; else with
    ``count_include_pad`` (the default) the window's size within the *padded* input --
    ``kH·kW`` except for a ``ceil_mode`` window reaching past the padding -- and
    without it the number of input values in the window.

    Backward: ``dL/dx[window] += G / divisor`` for every window.

    Cache: the output's shape, the windows, the per-output factor turning the mean
    over the kernel into this mean (None when every divisor is ``kH·kW``), the input's
    shape and dtype.

    Parameters
    ----------
    kernel_size, stride, padding
        As `MaxPool2D` (padding at most half the kernel size).
    ceil_mode : bool, default False
        As `MaxPool2D`.
    count_include_pad : bool, default True
        Whether the padding counts in the divisor.
    divisor_override : int >= 1 or None, default None
        Divide every window's sum by this instead.

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `MaxPool2D`; also a ``divisor_override`` that is not an int >= 1.
    """

    dims = 2


class AvgPool3D(_AvgPool):
    """Window mean over ``(N, C, D, H, W)``; as `AvgPool2D` with three spatial axes, as
    PyTorch's ``AvgPool3d``."""

    dims = 3
