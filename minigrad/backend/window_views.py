"""`im2col`'s column buffer by one copy of a strided view: NumPy's fast path behind
`minigrad.layers.conv.windows.im2col`.

The layer's own `_fill_columns` -- the readable reference -- copies one strided slice of
the input per kernel offset (9 for a 3×3 kernel), each a Python-level slice assignment
with its index built and checked: at batch 1 those calls, not the bytes, are the cost
(the 32→32 3×3 layer of the digits CNN on 8×8: ~50 µs of a ~110 µs forward). Here the
input is copied once into a zero frame in the buffer's layout, and all kernel offsets
of all output positions are one strided *view* of that frame --
``view[g, c, *k, n, *o] = frame[g, c, n, *(o·stride + k·dilation)]`` -- which a single
assignment copies into the buffer. The numbers are the same copies of the same values:
the buffer is bit-identical to the reference's (``tests/test_batch1_latency.py``).

`wide_columns` goes one step further for one sample at stride 1 in evaluation: columns
over every position of the frame's rows, so each offset's block is one contiguous run,
and `from_wide_columns` views the product without the padding columns
(``tests/test_latency3.py``).

NumPy only (a view with chosen strides is not in the Array API standard); off within
``fast_kernels(False)``, as the convolutions' other kernels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad.backend.convolution import Geometry, kernels_enabled


def fill_columns(cols: Any, x: Any, windows: Sequence[Geometry], groups: int,
                 batch_last: bool, limit: int | None = None) -> bool:
    """Fill ``cols (G, C/G, *kernel, N, *out)`` -- ``(G, C/G, *kernel, *out, N)`` with
    ``batch_last`` -- with the windows of ``x (N, C, *size)``, 0 in the padding, as
    `minigrad.layers.conv.windows.im2col` lays them out; False (nothing written) where
    this kernel does not apply: not NumPy, a negative padding, a frame of more than
    ``limit`` elements, or fast kernels off."""
    if not (type(x) is np.ndarray and type(cols) is np.ndarray and kernels_enabled()):
        return False
    plan = _plan(tuple(windows), x.shape[0], x.shape[1], groups, batch_last, x.dtype)
    if plan is None or (limit is not None and math.prod(plan[0]) > limit):
        return False
    shape, padded, to_nc, inside, view_shape, view_strides = plan
    frame = (np.zeros if padded else np.empty)(shape, x.dtype)
    frame.transpose(to_nc)[inside] = x
    cols[...] = np.ndarray(view_shape, x.dtype, frame, 0, view_strides)
    return True


Plan = tuple[tuple[int, ...], bool, tuple[int, ...], tuple[slice, ...], tuple[int, ...],
             tuple[int, ...]]
"""The frame's shape, whether it holds padding (zeros), the axes that show it as
``(N, C, *extents)``, the input's place in that, and the strided view's shape and
strides in bytes."""


@functools.lru_cache(maxsize=256)
def _plan(windows: tuple[Geometry, ...], n: int, c: int, groups: int, batch_last: bool,
          dtype: np.dtype[Any]) -> Plan | None:
    """`fill_columns`' frame and view, once per geometry (None: a negative padding, which
    a frame cannot hold)."""
    if any(w.pad < 0 for w in windows):
        return None
    dims = len(windows)
    extents = tuple(frame_extent(w) for w in windows)
    shape = (c, *extents, n) if batch_last else (c, n, *extents)
    padded = any(w.pad or w.pad + w.size < e for w, e in zip(windows, extents))
    to_nc = (dims + 1, 0, *range(1, dims + 1)) if batch_last else (1, 0, *range(2, dims + 2))
    inside = (slice(None), slice(None), *(slice(w.pad, w.pad + w.size) for w in windows))
    step = [math.prod(shape[axis + 1:]) * dtype.itemsize for axis in range(len(shape))]
    channel, batch = step[0], step[-1] if batch_last else step[1]
    axes = step[1:1 + dims] if batch_last else step[2:]
    kernel = tuple(w.dilation * s for w, s in zip(windows, axes))
    out = tuple(w.stride * s for w, s in zip(windows, axes))
    per_group = c // groups
    head = (groups, per_group, *(w.kernel for w in windows))
    outs = tuple(w.out for w in windows)
    if batch_last:
        return (shape, padded, to_nc, inside, (*head, *outs, n),
                (per_group * channel, channel, *kernel, *out, batch))
    return (shape, padded, to_nc, inside, (*head, n, *outs),
            (per_group * channel, channel, *kernel, batch, *out))


def frame_extent(w: Geometry) -> int:
    """The length of one axis of the frame: the input and its padding before, reaching as
    far as the last window reads (past the input: zeros)."""
    return max(w.pad + w.size, (w.out - 1) * w.stride + (w.kernel - 1) * w.dilation + 1)


def frame_size(x: Any, windows: Sequence[Geometry]) -> int:
    """Elements of the frame `fill_columns` would copy ``x`` into."""
    return int(x.shape[0] * x.shape[1]) * math.prod(frame_extent(w) for w in windows)


# -- one sample, stride 1: columns over the frame's rows, padding columns included ------


def wide_columns(x: Any, windows: Sequence[Geometry], groups: int, ones: bool
                 ) -> tuple[Any, WideOutput] | None:
    """`im2col`'s matrices ``(G, C/G · ∏kernel [+ 1], L)`` for one sample at stride 1,
    with the columns over *every* position of the zero frame from the first output to
    the last -- the frame's padding columns at the ends of the rows too -- and where the
    outputs are among them (for `from_wide_columns`); None where this does not apply
    (not NumPy, a batch > 1, one spatial axis, a stride > 1, a negative padding, fast
    kernels off).

    Column ``j`` is frame position ``j`` (flattened), so each offset's block is one
    contiguous run of the frame: 288 runs of 80 numbers, not 2,304 rows of 8, for the
    32→32 3×3 layer of the digits CNN on 8×8 (the copy 16 → 4 µs, the product 17 → 20:
    it computes the ``(W + 2)/W`` columns, which `from_wide_columns` leaves out). ``L``
    is rounded up to a multiple of 8 (a whole SIMD width; the product's edge cases cost
    more than the columns), the frame's buffer padded so that the last channel's run
    stays inside it. Each kept output is a dot product of the same numbers as with
    `im2col`'s columns; BLAS may sum it in another order for another ``L`` (equal to
    rounding).
    """
    if not (type(x) is np.ndarray and x.shape[0] == 1 and len(windows) > 1
            and kernels_enabled()):
        return None
    plan = _wide_plan(tuple(windows), x.shape[1], groups, x.dtype)
    if plan is None:
        return None
    buffer, frame_shape, inside, rows, view_shape, view_strides, out = plan
    frame = np.zeros(buffer, x.dtype)
    frame[:math.prod(frame_shape)].reshape(frame_shape)[inside] = x[0]
    matrix = np.empty((groups, rows + ones, view_shape[-1]), x.dtype)
    blocks = (matrix[:, :rows, :] if ones else matrix).reshape(view_shape)
    blocks[...] = np.ndarray(view_shape, x.dtype, frame, 0, view_strides)
    if ones:
        matrix[:, rows:, :] = 1
    return matrix, out


WideOutput = tuple[tuple[int, ...], tuple[int, ...]]
"""Where `wide_columns`' product holds the outputs: their spatial sizes, and the strides
in bytes of the channel axis and the spatial axes."""


def from_wide_columns(product: npt.NDArray[Any], out: WideOutput) -> npt.NDArray[Any]:
    """The product ``(G, O/G, L)`` of `wide_columns`' matrices as the ``(1, O, *out)``
    output: a strided view that leaves the padding columns out."""
    sizes, strides = out
    channels = product.shape[0] * product.shape[1]
    view: npt.NDArray[Any] = np.ndarray((1, channels, *sizes), product.dtype, product, 0,
                                        (channels * strides[0], *strides))
    return view


WidePlan = tuple[int, tuple[int, ...], tuple[slice, ...], int, tuple[int, ...],
                 tuple[int, ...], WideOutput]
"""The frame buffer's elements, the frame's shape ``(C, *extents)``, the input's place
in it, the rows ``C/G · ∏kernel``, the strided view's shape ``(G, C/G, *kernel, L)``
and strides in bytes, and the output's place in the product."""

_SIMD_COLUMNS = 8
"""`wide_columns` rounds its columns up to a multiple of this: 32→32 3×3 on 8×8, 78 →
80 columns, the product 21.5 → 19.7 µs; 32→64 on 4×4, 22 → 24, 15.2 → 12.9 µs."""


@functools.lru_cache(maxsize=256)
def _wide_plan(windows: tuple[Geometry, ...], c: int, groups: int, dtype: np.dtype[Any]
               ) -> WidePlan | None:
    """`wide_columns`' frame, view and output, once per geometry."""
    if any(w.stride != 1 or w.pad < 0 for w in windows):
        return None
    extents = tuple(frame_extent(w) for w in windows)
    steps = [math.prod(extents[axis + 1:]) for axis in range(len(extents))]
    used = sum((w.out - 1) * s for w, s in zip(windows, steps)) + 1
    columns = -(-used // _SIMD_COLUMNS) * _SIMD_COLUMNS
    channel, item, per_group = math.prod(extents), dtype.itemsize, c // groups
    kernel = tuple(w.kernel for w in windows)
    view_strides = (per_group * channel * item, channel * item,
                    *(w.dilation * s * item for w, s in zip(windows, steps)), item)
    inside = (slice(None), *(slice(w.pad, w.pad + w.size) for w in windows))
    return (c * channel + columns - used, (c, *extents), inside, per_group * math.prod(kernel),
            (groups, per_group, *kernel, columns), view_strides,
            (tuple(w.out for w in windows), (columns * item, *(s * item for s in steps))))
