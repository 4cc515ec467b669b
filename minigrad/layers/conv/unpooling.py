"""Max unpooling, the partial inverse of max pooling: `MaxUnpool1D`/`2D`/`3D`, as PyTorch's
``MaxUnpool1d``/``2d``/``3d``.

Each value goes back to the position its maximum came from -- PyTorch's flat indices,
which a `MaxPool2D(return_indices=True)` keeps in its attribute ``indices`` -- and every
other position of the output is 0. How a layer gets the indices, since a `Layer` takes
one input: ``MaxUnpool2D(2, indices_from=pool)`` reads the latest indices of that pool
in each forward (an encoder-decoder in a `Sequential`); ``unpool.unpool(x, indices)``
takes them explicitly, as PyTorch's ``unpool(x, indices)`` (and sets up ``backward``
alike). The pool is a reference, not a child: it is not walked, saved or converted
twice through the unpooling layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, Module, as_batch, as_grad
from minigrad.layers.conv.pooling import (
    SPATIAL_AXES,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    Sizes,
    window_arguments,
    window_repr,
)
from minigrad.layers.conv.windows import as_sizes

_POOLS: dict[int, type[Layer[Any]]] = {1: MaxPool1D, 2: MaxPool2D, 3: MaxPool3D}


class _MaxUnpool(Layer[Any]):
    dims: ClassVar[int]

    def __init__(self, kernel_size: Sizes, stride: Sizes | None = None, padding: Sizes = 0,
                 *, indices_from: MaxPool1D | MaxPool2D | MaxPool3D | None = None,
                 output_size: Sizes | None = None) -> None:
        owner = type(self).__name__
        self.kernel_size, self.stride, self.padding = window_arguments(
            owner, self.dims, kernel_size, stride, padding)
        self.output_size = (None if output_size is None
                            else as_sizes(owner, "output_size", output_size, self.dims, 1))
        pool = _POOLS[self.dims]
        if indices_from is not None and not (type(indices_from) is pool
                                             and indices_from.return_indices):
            raise TypeError(f"{owner}: indices_from must be a {pool.__name__} with "
                            f"return_indices=True, got {indices_from!r}")
        if indices_from is not None and (self.kernel_size, self.stride, self.padding) != (
                indices_from.kernel_size, indices_from.stride, indices_from.padding):
            # The indices are positions in the pool's input: another geometry would put
            # the values in an output of another size, or refuse them, batch by batch.
            raise ValueError(
                f"{owner}: the window ({window_repr(self.kernel_size, self.stride, self.padding)})"
                f" must be that of its indices_from pool {indices_from!r}")
        self.indices_from = indices_from

    @override
    def named_children(self) -> Iterator[tuple[str, Module[Any]]]:
        return iter(())  # indices_from is a reference to a layer elsewhere in the model

    @override
    def forward(self, x: Array) -> Array:
        pool = self.indices_from
        if pool is None:
            raise ValueError(f"{self!r} has no indices_from pool: give one, or call "
                             "unpool(x, indices) with the indices")
        if pool.indices is None:
            raise RuntimeError(f"{self!r}: its pool {pool!r} has no indices yet; run the "
                               "pool's forward first")
        x = as_batch(self, x, shape=("batch", "channels", *SPATIAL_AXES[self.dims]))
        # The pool's latest indices, where x is (a copy only if the pool ran elsewhere).
        indices = backend.move(pool.indices, backend.namespace(x), backend.device(x))
        return self.unpool(x, indices, self.output_size)

    def output_sizes(self, sizes: tuple[int, ...], output_size: Sizes | None) -> tuple[int, ...]:
        """PyTorch's: ``(size − 1)·s − 2p + k`` per axis, or ``output_size`` if it is
        within ``stride`` of that (exclusive)."""
        owner = repr(self)
        default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                        zip(sizes, self.stride, self.padding, self.kernel_size))
        if output_size is None:
            if min(default) < 1:
                raise ValueError(f"{owner}: the output size {default} for an input of spatial "
                                 f"size {sizes} is empty")
            return default
        wanted = as_sizes(owner, "output_size", output_size, self.dims, 1)
        for axis, (o, d, s) in enumerate(zip(wanted, default, self.stride)):
            if not d - s < o < d + s:
                raise ValueError(f"{owner}: output_size {wanted} must be within the stride of "
                                 f"{default} on axis {axis}, between {d - s} and {d + s} "
                                 "(exclusive), for an input of spatial size "
                                 f"{'×'.join(map(str, sizes))}")
        return wanted

    def unpool(self, x: Array, indices: Array, output_size: Sizes | None = None) -> Array:
        """``y``: zeros of ``(N, C, *output_size)`` with ``y[n, c, indices[n, c, i]] =
        x[n, c, i]`` (flat spatial positions); where indices repeat, the last value in
        row-major order is kept, as PyTorch does on the CPU.

        Raises
        ------
        ValueError
            ``x`` not ``(N, C, *spatial)``; ``indices`` not of ``x``'s shape, not integer
            or outside the output; a bad ``output_size``. Naming the layer.
        TypeError
            ``indices`` of another library or device than ``x``.
        """
        x = as_batch(self, x, shape=("batch", "channels", *SPATIAL_AXES[self.dims]))
        xp = backend.namespace(x)
        if not backend.same_place(indices, x):
            raise TypeError(f"{self!r}: indices must be an array of the input's library and "
                            f"device, {backend.describe(x)}, got {backend.describe(indices)}")
        if tuple(indices.shape) != tuple(x.shape) or backend.numpy_dtype(
                indices.dtype).kind not in "iu":
            raise ValueError(f"{self!r}: indices must be integers of the input's shape "
                             f"{tuple(x.shape)}, got {backend.numpy_dtype(indices.dtype)} of "
                             f"shape {tuple(indices.shape)}")
        sizes = self.output_sizes(tuple(x.shape[2:]), output_size)
        planes, plane = x.shape[0] * x.shape[1], math.prod(sizes)
        index = xp.reshape(xp.astype(indices, xp.int64), (planes, -1))
        low, high = backend.index_bounds(index)
        if low < 0 or high >= plane:
            raise ValueError(f"{self!r}: indices must be positions in an output of spatial "
                             f"size {'×'.join(map(str, sizes))} (0 to {plane - 1}), got "
                             f"{low} to {high}")
        starts = backend.asarray_like(np.arange(planes, dtype=np.int64)[:, None] * plane, x)
        where = backend.index_vector(index + starts)  # positions in the flat output
        writers = backend.last_writers(where, planes * plane)  # -1: no value goes there
        zero = xp.zeros((1,), dtype=x.dtype, device=backend.device(x))
        values = xp.concat([zero, xp.reshape(x, (-1,))])
        y: Array = xp.reshape(backend.take_rows(values, writers + 1),
                              (x.shape[0], x.shape[1], *sizes))
        # A value overwritten by a later one at its position does not reach the output.
        order = backend.asarray_like(np.arange(where.shape[0], dtype=np.int64), x)
        kept = xp.astype(backend.take_rows(writers, where) == order, x.dtype)
        self.cache = (where, kept, tuple(x.shape), tuple(y.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        """``dL/dx[n, c, i] = G[n, c, indices[n, c, i]]`` -- 0 for a value a later one
        overwrote (PyTorch's backward gives it that gradient too; it does not reach
        the output, so its derivative is 0)."""
        where, kept, shape, out_shape, dtype = self.saved()
        g = as_grad(self, grad_out, out_shape, dtype)
        xp = backend.namespace(g)
        picked = backend.take_rows(xp.reshape(g, (-1,)), where)
        grad_in: Array = xp.reshape(picked * kept, shape)
        return grad_in

    @override
    def extra_repr(self) -> str:
        text = window_repr(self.kernel_size, self.stride, self.padding)
        if self.output_size is not None:
            text += f", output_size={self.output_size}"
        if self.indices_from is not None:
            text += f", indices_from={self.indices_from!r}"
        return text


class MaxUnpool1D(_MaxUnpool):
    """`MaxUnpool2D` over ``(N, C, L)``, as PyTorch's ``MaxUnpool1d``; ``indices_from`` a
    `MaxPool1D`."""

    dims = 1


class MaxUnpool2D(_MaxUnpool):
    """Max unpooling ``(N, C, H, W) -> (N, C, H_out, W_out)``, as PyTorch's ``MaxUnpool2d``:
    zeros, with each value at the position its maximum came from (PyTorch's flat
    indices ``h·W_out + w``).

    Output size per axis: ``(size − 1)·s − 2p + k``, or ``output_size`` (within the
    stride of it, as PyTorch's) -- e.g. the pool's input size, for an odd one.

    Backward gathers: ``dL/dx[n, c, i] = G[n, c, index_i]`` (0 for a value overwritten
    by a later one at the same position; only overlapping pools repeat positions).

    Cache: the flat output position of each value, which values were kept, the
    input's and output's shapes and the dtype.

    Parameters
    ----------
    kernel_size, stride, padding
        The pool's, as PyTorch's ``MaxUnpool2d`` (``stride`` defaults to ``kernel_size``);
        with ``indices_from``, they must be that pool's.
    indices_from : MaxPool2D with ``return_indices=True``, optional (keyword)
        The pool whose latest ``indices`` each forward uses. Without it, call
        ``unpool(x, indices, output_size=None)``.
    output_size : int or (int, int), optional (keyword)
        The output's spatial size in `forward` (PyTorch passes it to each call).

    Raises
    ------
    TypeError
        Bad sizes or ``indices_from`` (constructor); indices of another library.
    ValueError
        An input not ``(N, C, H, W)``; indices not integers of its shape, or outside
        the output; an ``output_size`` out of range; a gradient not of the output's
        shape; a `forward` without ``indices_from``; a kernel size, stride or padding
        other than the ``indices_from`` pool's (constructor). Naming the layer.
    RuntimeError
        ``forward`` before the pool's first forward; ``backward`` before any forward.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> pool = mg.MaxPool2D(2, return_indices=True)
    >>> unpool = mg.MaxUnpool2D(2, indices_from=pool)
    >>> unpool(pool(np.array([[[[1.0, 2.0], [4.0, 3.0]]]])))
    array([[[[0., 0.],
             [4., 0.]]]])
    """

    dims = 2


class MaxUnpool3D(_MaxUnpool):
    """`MaxUnpool2D` over ``(N, C, D, H, W)``, as PyTorch's ``MaxUnpool3d``; ``indices_from``
    a `MaxPool3D`."""

    dims = 3
