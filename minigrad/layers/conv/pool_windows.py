"""Window geometry of the pooling layers, beyond the kernels of `windows`: PyTorch's
output sizes (``ceil_mode``), average pooling's divisors, max pooling's flat indices and
the windows of the adaptive pools.

Everything here is computed once per input *shape*, in NumPy, on the spatial axes only
(vectors of output positions, tables of kernel offsets): small integer arrays that the
layers move to their input's library (`backend.asarray_like`) and apply in one
vectorized pass -- no loop over samples, channels or output positions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.core import Array
from minigrad.layers.conv.windows import Window, offsets


def pool_output_size(size: int, kernel: int, stride: int, dilation: int, pad: int,
                     ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: ``⌊(size + 2p − d·(k − 1) − 1) / s⌋ + 1``,
    rounded up with ``ceil_mode`` -- but then the last window must start inside the
    input or the left padding: if ``(out − 1)·s >= size + p`` that window is dropped."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_windows(
    layer: object, sizes: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
    dilation: tuple[int, ...], padding: tuple[int, ...], ceil_mode: bool,
) -> tuple[Window, ...]:
    """The `Window` of each spatial axis of an input of spatial ``sizes``.

    Raises
    ------
    ValueError
        An output size below 1 (the input, padded, is smaller than the dilated kernel),
        or a window that meets no input value at all (a dilated kernel stepping over
        the whole input from the padding, where PyTorch returns −∞ and an index outside
        the input), naming ``layer`` (its repr) and the sizes.
    """
    windows = []
    for axis, (n, k, s, d, p) in enumerate(zip(sizes, kernel, stride, dilation, padding)):
        out = pool_output_size(n, k, s, d, p, ceil_mode)
        if out < 1:
            raise ValueError(
                f"{layer!r}: the input of spatial size {'×'.join(map(str, sizes))} gives an "
                f"output size {out} < 1 on spatial axis {axis} (the input after padding, "
                f"{n + 2 * p}, is smaller than the dilated kernel, {d * (k - 1) + 1})"
            )
        window = Window(n, k, s, d, p, out)
        covered = np.zeros(out, bool)
        for offset in range(k):
            pair = window.lineup(offset)
            if pair is not None:
                covered[pair[1]] = True
        if not covered.all():
            raise ValueError(
                f"{layer!r}: on spatial axis {axis} (size {n}) the window of output "
                f"{int(np.argmin(covered))} holds padding only (kernel {k}, dilation {d}, "
                f"padding {p}); use a smaller dilation or padding"
            )
        windows.append(window)
    return tuple(windows)


def window_starts(window: Window) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The input position each output's window starts at, ``o·s − p`` (may be < 0)."""
    return np.arange(window.out, dtype=np.int64) * window.stride - window.pad


def divisors(windows: tuple[Window, ...], count_include_pad: bool) -> np.ndarray[Any, Any]:
    """What each window's sum is divided by, ``(*out)``, as PyTorch's ``avg_pool``: the
    window clipped to the *padded* input (``count_include_pad``: the padding counts, a
    ``ceil_mode`` overhang past it does not), or to the input itself. A product over
    the axes, each a vector over that axis' outputs."""
    total = np.ones((), np.int64)
    for window in windows:
        start = window_starts(window)
        end = np.minimum(start + window.kernel, window.size + window.pad)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, window.size)
        total = np.multiply.outer(total, end - start)
    return total


def flat_indices(which: Array, windows: tuple[Window, ...]) -> Array:
    """PyTorch's ``return_indices``: for each output of `windows.max_pool`, the position
    of its maximum in the flattened spatial axes of its own sample and channel
    (``h·W + w`` in 2-D), int64, from ``which`` -- the number of the kernel offset
    holding it. ``index = start(o) + offset_shift[which]``: the window's first position
    plus the offset's, looked up in a table with one entry per kernel offset."""
    steps = [math.prod(w.size for w in windows[axis + 1:]) for axis in range(len(windows))]
    shifts = np.array([sum(k * w.dilation * step for k, w, step in zip(ks, windows, steps))
                       for ks, _, _ in offsets(windows)], np.int64)
    starts = np.zeros((), np.int64)
    for window, step in zip(windows, steps):
        starts = np.add.outer(starts, window_starts(window) * step)
    xp = backend.namespace(which)
    shift = backend.take_rows(backend.asarray_like(shifts, which), backend.index_vector(which))
    index: Array = xp.reshape(shift, tuple(which.shape)) + backend.asarray_like(starts, which)
    return index


# -- adaptive pooling -------------------------------------------------------------------


def adaptive_bounds(size: int, out: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """PyTorch's adaptive windows along one axis: output ``i`` covers
    ``[⌊i·size/out⌋, ⌈(i+1)·size/out⌉)``."""
    i = np.arange(out, dtype=np.int64)
    return i * size // out, -(-(i + 1) * size // out)


def averaging_matrix(size: int, out: int, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """``A (out, size)``: row ``i`` averages output ``i``'s adaptive window,
    ``A[i, j] = 1 / (end_i − start_i)`` for ``start_i <= j < end_i``, else 0."""
    start, end = adaptive_bounds(size, out)
    j = np.arange(size)
    inside = (start[:, None] <= j) & (j < end[:, None])
    matrix: np.ndarray[Any, Any] = (inside / (end - start)[:, None]).astype(dtype)
    return matrix


def window_table(size: int, out: int) -> np.ndarray[Any, Any]:
    """``(out, longest)``: the input positions of each adaptive window along one axis,
    padded to the longest window by repeating the window's last position (a repeat
    comes after the original, so a first-maximum scan still finds the original)."""
    start, end = adaptive_bounds(size, out)
    longest = int((end - start).max())
    table: np.ndarray[Any, Any] = np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1)
    return table


def box_table(sizes: tuple[int, ...], outs: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """``(∏out, box)``: for each output (row-major), the flat spatial positions of its
    adaptive window -- the product of the axes' `window_table` rows, in row-major order
    (so the first maximum of a row is the first in PyTorch's scan of the window, and
    the last NaN its last NaN)."""
    table = np.zeros((1, 1), np.int64)
    for size, out in zip(sizes, outs):
        axis = window_table(size, out)  # (out, longest)
        # (O, B) × (out, longest) -> (O, out, B, longest): position·size + position
        table = (table[:, None, :, None] * size + axis[None, :, None, :]).reshape(
            table.shape[0] * out, table.shape[1] * axis.shape[1])
    return table
