"""Pooling to a chosen output size on ``(N, C, *spatial)`` batches, as PyTorch's:
`AdaptiveAvgPool1D`/`2D`/`3D`, `AdaptiveMaxPool1D`/`2D`/`3D`, and the global means
`GlobalAvgPool1D`/`2D`/`3D` (``(N, C, ...) -> (N, C)``).

Output ``i`` of an axis of size ``L`` pools the window ``[⌊i·L/out⌋, ⌈(i+1)·L/out⌉)``
(PyTorch's), so windows differ in size by one and may overlap. Both pools are
vectorized over every output at once:

* the mean over a box is the mean along each axis in turn, and along one axis it is a
  matrix product with the averaging matrix ``A (out, L)`` (`pool_windows.averaging_matrix`)
  -- ``y = x ×₁ A₁ ×₂ A₂ ...`` and ``dL/dx = G ×₁ A₁ᵀ ×₂ A₂ᵀ ...``;
* the maximum gathers every window's values into a padded block ``(N, C, ∏out, box)``
  (`pool_windows.box_table`: each window's positions, padded by repeating one) and takes
  its first maximum, as PyTorch's row-major scan; backward adds each gradient at its
  maximum's position (`backend.scatter_add_rows`: adjacent windows may share it).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad, check_bool
from minigrad.layers.conv.pool_windows import averaging_matrix, box_table
from minigrad.layers.conv.pooling import SPATIAL_AXES

OutputSize = int | None | tuple[int | None, ...]


def as_output_size(owner: str, value: object, dims: int) -> tuple[int | None, ...]:
    """An int, or a ``dims``-tuple of ints >= 1 and ``None`` (keep that axis' size)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(items) != dims or any(
            item is not None and (isinstance(item, (bool, np.bool_))
                                  or not isinstance(item, (int, np.integer)) or item < 1)
            for item in items):
        raise ValueError(f"{owner}: output_size must be an int >= 1 or a tuple of {dims} "
                         f"ints >= 1 or None, got {value!r}")
    return tuple(None if item is None else int(item) for item in items)  # type: ignore[arg-type]


class _AdaptivePool(Layer[Any]):
    """The output size, input checks and repr shared by the adaptive pools."""

    dims: ClassVar[int]

    def __init__(self, output_size: OutputSize) -> None:
        self.output_size = as_output_size(type(self).__name__, output_size, self.dims)

    def _input(self, x: Array) -> tuple[Array, tuple[int, ...], tuple[int, ...]]:
        """The checked input, its spatial sizes and the output's (``None``: the input's)."""
        x = as_batch(self, x, shape=("batch", "channels", *SPATIAL_AXES[self.dims]))
        sizes = tuple(int(n) for n in x.shape[2:])
        return x, sizes, tuple(n if o is None else o for n, o in zip(sizes, self.output_size))

    @override
    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _along_first_spatial(x: Array, matrix: Array | None) -> Array:
    """``x (N, C, L, *rest)`` with its first spatial axis contracted with ``matrix (L, M)``
    and moved last: ``(N, C, *rest, M)``; ``None`` only moves it. Applied once per
    spatial axis, the axes come back in their order."""
    xp = backend.namespace(x)
    if matrix is None:
        moved: Array = xp.permute_dims(x, (0, 1, *range(3, x.ndim), 2))
        return moved
    product: Array = xp.tensordot(x, matrix, axes=([2], [0]))
    return product


class _AdaptiveAvgPool(_AdaptivePool):
    @override
    def forward(self, x: Array) -> Array:
        x, sizes, outs = self._input(x)
        dtype = backend.numpy_dtype(x.dtype)
        # Aᵀ (L, out) per axis; None where the axis keeps its size (A = I).
        matrices = [None if n == o else backend.asarray_like(averaging_matrix(n, o, dtype).T, x)
                    for n, o in zip(sizes, outs)]
        y = x
        for matrix in matrices:
            y = _along_first_spatial(y, matrix)
        self.cache = (matrices, tuple(y.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        matrices, out_shape, dtype = self.saved()
        g = as_grad(self, grad_out, out_shape, dtype)
        xp = backend.namespace(g)
        for matrix in matrices:
            g = _along_first_spatial(g, None if matrix is None else xp.permute_dims(matrix, (1, 0)))
        return g


class _AdaptiveMaxPool(_AdaptivePool):
    indices: Array | None = None

    def __init__(self, output_size: OutputSize, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = check_bool(type(self).__name__, "return_indices", return_indices)

    @override
    def forward(self, x: Array) -> Array:
        x, sizes, outs = self._input(x)
        xp = backend.namespace(x)
        n, c = x.shape[:2]
        table = box_table(sizes, outs)  # (P, B): each output's window, flat positions
        positions, box = table.shape
        flat = xp.reshape(x, (n, c, math.prod(sizes)))
        windows = xp.reshape(xp.take(flat, backend.asarray_like(table.reshape(-1), x), axis=2),
                             (n, c, positions, box))
        best = xp.max(windows, axis=3)  # NaN-propagating, as PyTorch's
        which = xp.argmax(windows, axis=3)  # the first maximum
        if bool(xp.isnan(xp.sum(best))):  # PyTorch's scan keeps a window's last NaN
            nan = xp.astype(xp.isnan(windows), x.dtype)
            last_nan = (box - 1) - xp.argmax(xp.flip(nan, axis=3), axis=3)
            which = xp.where(xp.isnan(best), last_nan, which)
        # The flat spatial position of each maximum: table[o, which[n, c, o]].
        rows = backend.asarray_like(np.arange(positions, dtype=np.int64) * box, x)
        chosen = backend.index_vector(xp.astype(which, xp.int64) + rows)
        index = xp.reshape(backend.take_rows(backend.asarray_like(table.reshape(-1), x), chosen),
                           (n, c, *outs))
        self.cache = (index, tuple(x.shape), x.dtype)
        if self.return_indices:
            self.indices = index
        y: Array = xp.reshape(best, (n, c, *outs))
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        index, shape, dtype = self.saved()
        g = as_grad(self, grad_out, tuple(index.shape), dtype)
        xp = backend.namespace(g)
        planes, plane = shape[0] * shape[1], math.prod(shape[2:])
        # dL/dx[n, c, index] += G[n, c, o]: each plane's positions offset by its start.
        starts = backend.asarray_like(np.arange(planes, dtype=np.int64)[:, None] * plane, g)
        where = backend.index_vector(xp.reshape(index, (planes, -1)) + starts)
        grad_in: Array = xp.zeros((planes * plane,), dtype=dtype, device=backend.device(g))
        backend.scatter_add_rows(grad_in, where, xp.reshape(g, (-1,)))
        grad_x: Array = xp.reshape(grad_in, shape)
        return grad_x

    @override
    def extra_repr(self) -> str:
        return super().extra_repr() + (", return_indices=True" if self.return_indices else "")


class AdaptiveAvgPool1D(_AdaptiveAvgPool):
    """`AdaptiveAvgPool2D` over ``(N, C, L)``, as PyTorch's ``AdaptiveAvgPool1d``."""

    dims = 1


class AdaptiveAvgPool2D(_AdaptiveAvgPool):
    """Mean over adaptive windows, ``(N, C, H, W) -> (N, C, *output_size)``, as PyTorch's
    ``AdaptiveAvgPool2d``.

    ``y[n, c, i, j] = mean of x[n, c, hs_i:he_i, ws_j:we_j]`` with ``hs_i = ⌊i·H/Ho⌋``,
    ``he_i = ⌈(i+1)·H/Ho⌉`` (likewise along W): ``y = A_H x A_Wᵀ`` per plane, with the
    averaging matrices ``A``; backward ``dL/dx = A_Hᵀ G A_W``.

    Cache: the (transposed) averaging matrices, the output's shape and the dtype.

    Parameters
    ----------
    output_size : int >= 1, or a tuple of ints >= 1 and None
        The output's spatial size; ``None`` keeps the input's size on that axis.

    Raises
    ------
    ValueError
        A bad ``output_size`` (constructor); an input not ``(N, C, H, W)``; a gradient
        not of the output's shape. Naming the layer.
    TypeError
        A non-real input.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.AdaptiveAvgPool2D((1, None))(np.arange(6.0).reshape(1, 1, 2, 3))
    array([[[[1.5, 2.5, 3.5]]]])
    """

    dims = 2


class AdaptiveAvgPool3D(_AdaptiveAvgPool):
    """`AdaptiveAvgPool2D` over ``(N, C, D, H, W)``, as PyTorch's ``AdaptiveAvgPool3d``."""

    dims = 3


class AdaptiveMaxPool1D(_AdaptiveMaxPool):
    """`AdaptiveMaxPool2D` over ``(N, C, L)``, as PyTorch's ``AdaptiveMaxPool1d``."""

    dims = 1


class AdaptiveMaxPool2D(_AdaptiveMaxPool):
    """Maximum over adaptive windows, ``(N, C, H, W) -> (N, C, *output_size)``, as
    PyTorch's ``AdaptiveMaxPool2d``: the windows of `AdaptiveAvgPool2D`, the first
    maximum of each (row-major; a NaN wins, the last one), as PyTorch's.

    Backward: ``dL/dx[argmax] += G``, adding where windows share their maximum.

    Cache: the flat position of each output's maximum, the input's shape and dtype.

    Parameters
    ----------
    output_size : int >= 1, or a tuple of ints >= 1 and None
        As `AdaptiveAvgPool2D`.
    return_indices : bool, default False
        Keep the latest forward's positions of the maxima in the attribute ``indices``
        (int64, PyTorch's: ``h·W + w`` within each sample and channel), as `MaxPool2D`.

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `AdaptiveAvgPool2D`; also a ``return_indices`` that is not a bool.
    """

    dims = 2


class AdaptiveMaxPool3D(_AdaptiveMaxPool):
    """`AdaptiveMaxPool2D` over ``(N, C, D, H, W)``, as PyTorch's ``AdaptiveMaxPool3d``."""

    dims = 3


class _GlobalAvgPool(Layer[tuple[tuple[int, ...], np.dtype[Any]]]):
    dims: ClassVar[int]

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x, shape=("batch", "channels", *SPATIAL_AXES[self.dims]))
        self.cache = (tuple(x.shape), x.dtype)
        y: Array = backend.namespace(x).mean(x, axis=tuple(range(2, x.ndim)))
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        shape, dtype = self.saved()
        g = as_grad(self, grad_out, shape[:2], dtype)
        xp = backend.namespace(g)
        share = xp.reshape(g / float(math.prod(shape[2:])), (*shape[:2], *(1,) * self.dims))
        spread: Array = xp.broadcast_to(share, shape)
        return spread


class GlobalAvgPool1D(_GlobalAvgPool):
    """Mean over all positions, ``(N, C, L) -> (N, C)``; as `GlobalAvgPool2D`."""

    dims = 1


class GlobalAvgPool2D(_GlobalAvgPool):
    """Mean over all positions: ``(N, C, H, W) -> (N, C)``, ``y[n, c] = mean_{h,w} x``
    (PyTorch's ``AdaptiveAvgPool2d(1)`` then ``Flatten``).

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

    dims = 2


class GlobalAvgPool3D(_GlobalAvgPool):
    """Mean over all positions, ``(N, C, D, H, W) -> (N, C)``; as `GlobalAvgPool2D`."""

    dims = 3
