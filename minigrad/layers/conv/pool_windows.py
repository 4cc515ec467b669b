"""The pooling layers' windows: PyTorch's output sizes (``ceil_mode``), the max and
average pooling kernels (a loop over kernel offsets, as `windows`' im2col), average
pooling's divisors, max pooling's flat indices and the windows of the adaptive pools.

Everything here is computed once per input *shape*, in NumPy, on the spatial axes only
(vectors of output positions, tables of kernel offsets): small integer arrays that the
layers move to their input's library (`backend.asarray_like`) and apply in one
vectorized pass -- no loop over samples, channels or output positions.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.backend import pool_kernels
from minigrad.core import Array
from minigrad.layers.conv.windows import Index, Offset, Window, offsets, spatial


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
    """The `Window` of each spatial axis of an input of spatial ``sizes`` (found once per
    geometry: `_geometry`).

    Raises
    ------
    ValueError
        An output size below 1 (the input, padded, is smaller than the dilated kernel),
        or a window that meets no input value at all (a dilated kernel stepping over
        the whole input from the padding, where PyTorch returns −∞ and an index outside
        the input), naming ``layer`` (its repr) and the sizes.
    """
    found = _geometry(tuple(sizes), kernel, stride, dilation, padding, ceil_mode)
    if isinstance(found, str):
        raise ValueError(f"{layer!r}: {found}")
    return found


@functools.lru_cache(maxsize=256)  # a layer meets few input sizes; each took ~30 µs
def _geometry(sizes: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...], padding: tuple[int, ...], ceil_mode: bool,
              ) -> tuple[Window, ...] | str:
    """`pool_windows`' windows, or what is wrong with them (its error, less the layer)."""
    windows = []
    for axis, (n, k, s, d, p) in enumerate(zip(sizes, kernel, stride, dilation, padding)):
        out = pool_output_size(n, k, s, d, p, ceil_mode)
        if out < 1:
            return (f"the input of spatial size {'×'.join(map(str, sizes))} gives an "
                    f"output size {out} < 1 on spatial axis {axis} (the input after padding, "
                    f"{n + 2 * p}, is smaller than the dilated kernel, {d * (k - 1) + 1})")
        window = Window(n, k, s, d, p, out)
        covered = np.zeros(out, bool)
        for offset in range(k):
            pair = window.lineup(offset)
            if pair is not None:
                covered[pair[1]] = True
        if not covered.all():
            return (f"on spatial axis {axis} (size {n}) the window of output "
                    f"{int(np.argmin(covered))} holds padding only (kernel {k}, dilation {d}, "
                    f"padding {p}); use a smaller dilation or padding")
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
    """PyTorch's ``return_indices``: for each output of `max_pool`, the position
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


# -- pooling --------------------------------------------------------------------------


def max_pool(x: Array, windows: tuple[Window, ...]) -> tuple[Array, Array]:
    """The window maxima of ``x (N, C, *size)`` and, for each, the number of the kernel
    offset (in `offsets` order) holding it.

    The *first* maximum in the window wins a tie, as in PyTorch (a strict ``>`` scan in
    row-major kernel order), so backward routes tied gradients exactly as PyTorch does.
    A NaN wins over any number and the last NaN's offset is kept, as PyTorch does too:
    checked in one pass over the output, and fixed up only when a NaN is there.
    """
    if (fast := pool_kernels.max_pool(x, windows)) is not None:  # PyTorch's own, on torch
        return fast
    xp = backend.namespace(x)
    found, plan = offsets(windows), _scan(windows)
    padded = not plan[0]
    best, start = _first_maximum(x, windows, plan)
    which: Array = backend.zeros_in_layout(tuple(best.shape),
                                           xp.int8 if len(found) < 128 else xp.int32, x)
    if padded:  # offset 0 misses some outputs: every first value taken
        which[...] = -1
    for index in range(start, len(found)):
        _, ins, outs = found[index]
        values, region = x[spatial(ins)], spatial(outs)
        take = values > best[region]
        if padded:
            take = take | (which[region] == -1)
        backend.update_slice(best, region, "maximum", values)  # NaN-propagating: a NaN stays
        # which = index where taken: the offsets come in increasing order and no earlier
        # one is below 0 when not taken, so a max does it (masked writes are 10× slower).
        backend.update_slice(which, region, "maximum", index, mask=take)
    if bool(xp.isnan(xp.sum(best))):  # a NaN maximum (or inf − inf): look closer, rarely
        _nan_wins(x, found, which)
    return best, which


def max_pool_values(x: Array, windows: tuple[Window, ...]) -> Array:
    """The window maxima of ``x (N, C, *size)`` alone -- `max_pool`'s first result, the
    same numbers (a NaN wins), without finding where each came from: what a forward
    needs when no backward will ask (evaluation mode). One ``maximum`` per kernel
    offset, written into the output's slice (NumPy: a ufunc with ``out=``, 2-4× faster
    per window than PyTorch's kernel on tiled 2×2 windows at batch 256; a reduction over
    a `sliding_window_view`'s window axes is ~25× slower than these) -- or, where the
    windows tile the input, one per kernel axis and offset (`_fold_tiles`)."""
    fast: Array | None = pool_kernels.max_pool_values(x, windows)
    if fast is not None:  # PyTorch's own
        return fast
    if (tiles := _tiles(windows)) is not None:
        return _fold_tiles(x, tiles, "maximum")
    plan = _scan(windows)
    best, start = _first_maximum(x, windows, plan)
    for region, reads in plan[1][start:]:
        backend.update_slice(best, region, "maximum", x[reads])
    return best


Tiles = tuple[tuple[int, ...], tuple[tuple[Index, ...], ...]]
"""The tile shape of the spatial axes, ``(out_1, kernel_1, out_2, kernel_2, ...)``, and
for each kernel axis, the last first, the index of each of its offsets."""


@functools.lru_cache(maxsize=256)
def _tiles(windows: tuple[Window, ...]) -> Tiles | None:
    """`Tiles` where the windows tile the input exactly -- kernel = stride, no padding
    or dilation, the size a multiple of the kernel (``MaxPool2D(2)`` on an even size);
    else None."""
    if not all(w.stride == w.kernel and w.pad == 0 and (w.dilation == 1 or w.kernel == 1)
               and w.out * w.kernel == w.size for w in windows) or all(
                   w.kernel == 1 for w in windows):  # 1×1 windows: a view of x, not a result
        return None
    axes = range(3 + 2 * (len(windows) - 1), 2, -2)  # of (N, C, out_1, kernel_1, ...)
    return (tuple(size for w in windows for size in (w.out, w.kernel)),
            tuple(tuple((*(slice(None),) * axis, k, ...) for k in range(windows[axis // 2 - 1]
                                                                        .kernel))
                  for axis in axes))


def _fold_tiles(x: Array, tiles: Tiles, op: str) -> Array:
    """``op`` (``"maximum"`` or ``"add"``) over each tile of ``x (N, C, *size)`` viewed as
    ``(N, C, out_1, kernel_1, ...)``: the kernel axes folded one at a time, the last
    first, each by ``kernel − 1`` elementwise calls (3 for 2×2 windows where the offset
    scan takes 3 plus an index each, the windows' maxima ~3× faster at batch 1) -- no
    multi-axis reduction (NumPy's over these short strided axes: slower than the scan).

    Folding the last axis first keeps the row-major order of the scan: a maximum is the
    first of its ties (``maximum`` keeps its first operand on a tie), as `max_pool`'s; a
    NaN wins. The sums add in another order than `avg_pool`'s: equal to rounding."""
    shape, axes = tiles
    fold = getattr(backend.namespace(x), op)
    folded: Array = backend.reshape(x, (*x.shape[:2], *shape))
    for offsets_of_axis in axes:
        total = folded[offsets_of_axis[0]]
        for offset in offsets_of_axis[1:]:
            total = fold(total, folded[offset])
        folded = total
    return folded


def _first_maximum(x: Array, windows: tuple[Window, ...], plan: Scan) -> tuple[Array, int]:
    """The running maxima before the scan of the offsets, in ``x``'s layout, and the
    offset the scan starts at: offset 0's values when it meets every output, else −∞
    everywhere (padding holds −∞) and the scan starts at 0."""
    out_shape = (*x.shape[:2], *(w.out for w in windows))
    best: Array = backend.zeros_in_layout(out_shape, x.dtype, x)
    covered, steps = plan
    if not covered:
        best[...] = -math.inf
        return best, 0
    best[...] = x[steps[0][1]]
    return best, 1


Scan = tuple[bool, tuple[tuple[Index, Index], ...]]
"""Whether every kernel offset meets every output (no padding met), and per offset (in
`offsets` order) the whole index of the output region it updates and of the input
it reads."""


@functools.lru_cache(maxsize=256)
def _scan(windows: tuple[Window, ...]) -> Scan:
    """The max-pooling scan of `windows` (`Scan`), built once per geometry."""
    whole = [slice(0, w.out) for w in windows]
    covered = all(
        (pair := w.lineup(k)) is not None and pair[1] == full
        for w, full in zip(windows, whole) for k in range(w.kernel))
    return covered, tuple((spatial(outs), spatial(ins)) for _, ins, outs in offsets(windows))


def _nan_wins(x: Array, found: tuple[Offset, ...], which: Array) -> None:
    """Where a window holds a NaN, its maximum is at the window's last NaN (PyTorch's)."""
    xp = backend.namespace(x)
    for index, (_, ins, outs) in enumerate(found):
        region = spatial(outs)
        which[region] = xp.where(xp.isnan(x[spatial(ins)]), index, which[region])


def max_pool_backward(grad: Array, which: Array, windows: tuple[Window, ...],
                      shape: tuple[int, ...]) -> Array:
    """``dL/dx``: each output's gradient goes to the input position its maximum came
    from (``which``), and adds up where windows overlap."""
    fast: Array | None = pool_kernels.max_pool_backward(grad, which, windows, shape)
    if fast is not None:  # PyTorch's scatter, on torch
        return fast
    tiled = all(w.stride == w.kernel and w.out * w.kernel == w.size and w.pad == 0
                for w in windows)  # every input in exactly one window: assign, no adds
    grad_in: Array = backend.zeros_in_layout(shape, grad.dtype, which)
    for index, (_, ins, outs) in enumerate(offsets(windows)):
        region = spatial(outs)
        backend.update_slice(grad_in, spatial(ins), "assign" if tiled else "add",
                       grad[region], which[region] == index)
    return grad_in


def avg_pool(x: Array, windows: tuple[Window, ...]) -> Array:
    """Window means of ``x (N, C, *size)``, padding counted as zeros in every window
    (PyTorch's ``count_include_pad=True``): each sum is divided by the kernel size.
    Windows that tile the input are summed a kernel axis at a time (`_fold_tiles`)."""
    if (tiles := _tiles(windows)) is not None:
        total: Array = _fold_tiles(x, tiles, "add")
        return total / _kernel_count(windows)
    out: Array = backend.zeros_in_layout((*x.shape[:2], *(w.out for w in windows)), x.dtype, x)
    for _, ins, outs in offsets(windows):
        out[spatial(outs)] += x[spatial(ins)]
    out /= _kernel_count(windows)
    return out


def avg_pool_backward(grad: Array, windows: tuple[Window, ...], shape: tuple[int, ...]) -> Array:
    """``dL/dx``: each output's gradient, divided by the kernel size, added to every
    input position of its window."""
    share = grad / _kernel_count(windows)
    grad_in: Array = backend.zeros_in_layout(shape, grad.dtype, share)
    for _, ins, outs in offsets(windows):
        grad_in[spatial(ins)] += share[spatial(outs)]
    return grad_in


def _kernel_count(windows: tuple[Window, ...]) -> float:
    """The kernel's size, a Python number: it keeps the arrays' dtype (float32 stays)."""
    return float(math.prod(w.kernel for w in windows))


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
