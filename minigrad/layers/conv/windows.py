"""Sliding-window kernels shared by the convolution and pooling layers.

Every window operation here is a loop over the *kernel offsets* only -- never over
samples or output positions. For one offset ``(i, j)`` of a kernel sliding over an
input with stride ``s``, dilation ``d`` and padding ``p``, output position ``o`` reads
input position ``o·s + i·d − p``: a strided slice of the input lines up with a slice
of the output. The input positions that fall in the padding are simply left out of
both slices, so no padded copy of the input is ever made:

* `im2col` copies each offset's input slice into its row of a column buffer
  ``(C, kH, kW, N, Ho, Wo)`` -- the one large temporary of a convolution -- so the
  convolution becomes one matrix product;
* the adjoint, `col2im`, is a *slice-add* per offset (``dst[in] += src[out]``) of one
  small matrix product each, which `Conv2D`'s strided backward and `ConvTranspose2D`'s
  forward use (`matmul_nt`, `channel_major`: the products' shapes);
* the pooling kernels (`minigrad.layers.conv.pool_windows`' `max_pool`, `avg_pool` and
  their backward passes) compare or add the offsets' slices.

Only what the Array API standard has is used -- positive-step slices (read and
assigned), reshapes, axis permutations and elementwise operations -- so the kernels run
on every backend; every index names all axes (or ends in ``...``), as the standard asks.
The NumPy-only shortcuts (ufuncs writing into a slice with ``out=``, the memory-layout
check, one ``np.dot`` for a single group's product) are `minigrad.backend`'s
`update_slice`, `zeros_in_layout` and `grouped_matmul`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from minigrad import backend
from minigrad.backend import grouped_matmul
from minigrad.backend.window_views import (
    WideOutput,
    fill_columns,
    frame_extent,
    frame_size,
    from_wide_columns,
    wide_columns,
)
from minigrad.core import Array

Offset = tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]
"""A kernel offset, the input slices it reads and the output slices it lines up with."""

Index = tuple[Any, ...]


def spatial(parts: tuple[slice | int, ...]) -> Index:
    """The index of ``parts`` on the spatial axes of an ``(N, C, ...)`` or ``(C, N, ...)``
    array (the two leading axes whole)."""
    return (slice(None), slice(None), *parts)


def as_sizes(owner: str, name: str, value: object, dims: int, minimum: int) -> tuple[int, ...]:
    """An int or a ``dims``-tuple of ints >= ``minimum``, as a tuple; else a clear error.

    Raises
    ------
    TypeError
        ``value`` is not an int or a tuple/list of ints (bools and floats are refused).
    ValueError
        A tuple of the wrong length, or a size below ``minimum``.
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer))
           for v in items):
        raise TypeError(f"{owner}: {name} must be an int or a tuple of {dims} ints, "
                        f"got {value!r}")
    sizes = [int(v) for v in items]  # type: ignore[arg-type]  # checked ints above
    if len(sizes) != dims:
        raise ValueError(f"{owner}: {name} must be an int or a tuple of {dims} ints, "
                         f"got {value!r}")
    if any(v < minimum for v in sizes):
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return tuple(sizes)


class Window(NamedTuple):
    """One spatial axis of a sliding window: output ``o`` reads input ``o·stride +
    k·dilation − pad`` for kernel offset ``k``; ``out`` is the output length. A named
    tuple: hashed in C, as the per-geometry caches keyed on windows do on every call."""

    size: int
    kernel: int
    stride: int
    dilation: int
    pad: int
    out: int

    def lineup(self, k: int) -> tuple[slice, slice] | None:
        """The input and output slices kernel offset ``k`` connects (None: none at all,
        the offset only ever meets padding)."""
        shift = k * self.dilation - self.pad  # input index = o·stride + shift
        low = max(0, -(shift // self.stride))  # first o with a non-negative input index
        high = min(self.out, (self.size - 1 - shift) // self.stride + 1)
        if high <= low:
            return None
        start = low * self.stride + shift
        return slice(start, start + (high - low - 1) * self.stride + 1, self.stride), slice(
            low, high
        )


def paddings(
    owner: str, value: object, dims: int, kernel: tuple[int, ...], dilation: tuple[int, ...],
    stride: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Padding before and after each axis from an int, a tuple, ``"valid"`` or ``"same"``."""
    if value == "valid":
        return (0,) * dims, (0,) * dims
    if value == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{owner}: padding='same' needs stride 1, got stride={stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        before = tuple(t // 2 for t in total)  # PyTorch puts the odd one after
        return before, tuple(t - b for t, b in zip(total, before))
    if isinstance(value, str):
        raise ValueError(f"{owner}: padding must be an int, a tuple, 'same' or 'valid', "
                         f"got {value!r}")
    pads = as_sizes(owner, "padding", value, dims, 0)
    return pads, pads


def output_size(size: int, kernel: int, stride: int, dilation: int, pads: int) -> int:
    """``⌊(size + pads − dilation·(kernel − 1) − 1) / stride⌋ + 1``, ``pads`` the total
    padding of the axis (PyTorch's formula; < 1 when the window does not fit)."""
    return (size + pads - dilation * (kernel - 1) - 1) // stride + 1


@functools.lru_cache(maxsize=256)  # a layer meets few geometries; each costs ~10 µs to find
def offsets(windows: tuple[Window, ...]) -> tuple[Offset, ...]:
    """Every kernel offset that meets the input, in row-major kernel order, with the
    input and output slices it lines up (computed once per geometry)."""
    per_axis = [[(k, w.lineup(k)) for k in range(w.kernel)] for w in windows]
    return tuple(
        (
            tuple(k for k, _ in combo),
            tuple(pair[0] for _, pair in combo if pair is not None),
            tuple(pair[1] for _, pair in combo if pair is not None),
        )
        for combo in itertools.product(*per_axis)
        if all(pair is not None for _, pair in combo)
    )


def im2col(x: Array, windows: tuple[Window, ...], groups: int = 1, ones: bool = False,
           batch_last: bool = False) -> Array:
    """The column matrices of ``x (N, C, *size)``, one per group of ``C / groups``
    channels: ``(G, C/G · ∏kernel [+ 1], N · ∏out)``, the right operand of a grouped
    convolution's matrix product. Entry ``[g, (c, *k), (n, *o)]`` is the input value
    that kernel offset ``k`` of output ``o`` sees in channel ``c`` of group ``g`` (0 in
    the padding); ``ones`` appends a row of ones to each group's matrix -- the bias
    row: ``[W b] @ [cols; 1]`` is the product plus the bias, and ``G @ [cols; 1]ᵀ`` the
    weight gradient with ``dL/db`` as its last column, no pass of their own. The
    columns run over ``(n, *o)``, or with ``batch_last`` over ``(*o, n)`` (see
    `batch_last`).

    Each offset's block ``[g, (c, *k), :]`` is one copy of a strided input slice. Only
    the padding's bands of each block are zeroed, not the whole buffer -- or, for a
    small padded input, the input is copied once into a zero frame and each block is
    one copy with no bands: a slice assignment per offset and side costs more than a
    pass over a cache-sized input (the 5×5 first layer's im2col: 0.38 → 0.23 ms).
    Where the input is framed so, NumPy copies all the offsets' blocks at once, from a
    strided view of the frame (`minigrad.backend.window_views`: at batch 1, 9 slice
    assignments cost more than the bytes they move); `_fill_columns` is the reference.
    """
    rows, columns, blocks = _column_layout(windows, *x.shape[:2], groups, batch_last)
    matrix: Array = backend.empty_like_shape(x, (groups, rows + ones, columns))
    cols = backend.writable_reshape(matrix[:, :rows, :], blocks)
    in_place = cols is not None
    if cols is None:  # a library that does not promise a writable view: a buffer of its own
        cols = backend.empty_like_shape(x, blocks)
    if not fill_columns(cols, x, windows, groups, batch_last,  # NumPy's: one strided copy
                        None if batch_last else _SMALL_INPUT):  # of what is framed below
        _fill_columns(cols, x, windows, groups, batch_last)
    if not in_place:
        matrix[:, :rows, :] = backend.namespace(x).reshape(cols, (groups, rows, columns))
    if ones:
        matrix[:, rows:, :] = 1
    return matrix


class Columns(NamedTuple):
    """A forward's column matrices (`forward_columns`) and where their product's columns
    go in the output."""

    matrix: Array
    """``(G, C/G · ∏kernel [+ 1], L)``: the product's right operand."""
    wide: WideOutput | None
    """Where the outputs are among the columns of a one-sample evaluation's wide matrix
    (`minigrad.backend.window_views.wide_columns`); None: `im2col`'s columns."""
    batch_last: bool
    """`im2col`'s column order: over ``(*out, n)``, or ``(n, *out)``."""

    def output(self, product: Array, size: tuple[int, ...]) -> Array:
        """The product ``(G, O/G, L)`` of `matrix` as the output ``(N, O, *size)``."""
        if self.wide is not None:
            return from_wide_columns(product, self.wide)
        return from_columns(product, size, self.batch_last)


def forward_columns(x: Array, windows: tuple[Window, ...], groups: int, *, ones: bool,
                    batch_last: bool, evaluation: bool) -> Columns:
    """A convolution forward's columns: in evaluation, for one sample, the wide columns
    over the padded frame's rows where they apply (a quarter of the copying); else
    `im2col`'s, in the given order. The product is the same either way (to rounding)."""
    wide = wide_columns(x, windows, groups, ones) if evaluation else None
    if wide is not None:
        return Columns(wide[0], wide[1], batch_last=False)
    return Columns(im2col(x, windows, groups, ones=ones, batch_last=batch_last), None,
                   batch_last)


@functools.lru_cache(maxsize=256)
def _column_layout(windows: tuple[Window, ...], n: int, c: int, groups: int, batch_last: bool
                   ) -> tuple[int, int, tuple[int, ...]]:
    """`im2col`'s rows and columns per group, and its buffer's shape axis by axis."""
    kernel, outs = tuple(w.kernel for w in windows), tuple(w.out for w in windows)
    blocks = ((groups, c // groups, *kernel, *outs, n) if batch_last
              else (groups, c // groups, *kernel, n, *outs))
    return c // groups * math.prod(kernel), n * math.prod(outs), blocks


def _fill_columns(cols: Array, x: Array, windows: tuple[Window, ...], groups: int,
                  batch_last: bool) -> None:
    """`im2col`'s copies: ``cols (G, C/G, *kernel, N, *out)`` (or ``(..., *out, N)``)
    from ``x (N, C, *size)``."""
    n, c = x.shape[:2]
    xp = backend.namespace(x)
    extents = [frame_extent(w) for w in windows]  # of the padded input each window reads
    if batch_last or (any(w.pad for w in windows) and all(w.pad >= 0 for w in windows) and (
            frame_size(x, windows) <= _SMALL_INPUT)):
        def order(spatial: Iterable[Any], batch: Any) -> tuple[Any, ...]:  # where N goes
            return (*spatial, batch) if batch_last else (batch, *spatial)

        framed = backend.zeros_in_layout((groups, c // groups, *order(extents, n)), x.dtype,
                                         cols)
        axes = (1, *range(2, x.ndim), 0) if batch_last else (1, 0, *range(2, x.ndim))
        inside, copies = _framed_plan(windows, batch_last)
        framed[inside] = xp.reshape(xp.permute_dims(x, axes),
                                    (groups, c // groups, *order(x.shape[2:], n)))
        for block, reads in copies:
            cols[block] = framed[reads]
        return
    source = xp.reshape(swap01(x), (groups, c // groups, n, *x.shape[2:]))  # (G, C/G, N, ...)
    lead: Index = (slice(None),) * 3  # the group, channel and sample axes of the source
    per_axis = [[(k, w.lineup(k)) for k in range(w.kernel)] for w in windows]
    for combo in itertools.product(*per_axis):
        block = (slice(None), slice(None), *(k for k, _ in combo), slice(None))
        pairs = [pair for _, pair in combo]
        if any(pair is None for pair in pairs):  # this offset only ever meets padding
            whole: Index = (*block, ...)
            cols[whole] = 0
            continue
        spans = tuple(pair[1] for pair in pairs if pair is not None)
        reads = (*lead, *(p[0] for p in pairs if p))
        cols[block + spans] = source[reads]
        for axis, (window, span) in enumerate(zip(windows, spans)):
            before: Index = (*block, *(slice(None),) * axis, slice(0, span.start), ...)
            after: Index = (*block, *(slice(None),) * axis, slice(span.stop, window.out), ...)
            cols[before] = 0
            cols[after] = 0


@functools.lru_cache(maxsize=256)
def _framed_plan(windows: tuple[Window, ...], batch_last: bool
                 ) -> tuple[Index, tuple[tuple[Index, Index], ...]]:
    """`_fill_columns`' framed copies, once per geometry: the input's place in its frame,
    and per kernel offset its block of the columns and the frame's slice it copies."""
    def at(parts: Iterable[slice]) -> Index:  # spatial parts, all of N (last or first)
        whole, spatial = slice(None), tuple(parts)
        return (whole, whole, *((*spatial, whole) if batch_last else (whole, *spatial)))

    inside = at(slice(w.pad, w.pad + w.size) for w in windows)
    copies = tuple(
        ((slice(None), slice(None), *ks, ...),
         at(slice(k * w.dilation, k * w.dilation + (w.out - 1) * w.stride + 1, w.stride)
            for k, w in zip(ks, windows)))
        for ks in itertools.product(*(range(w.kernel) for w in windows)))
    return inside, copies


_SMALL_INPUT = 1 << 18
"""Elements of a padded input up to which `im2col` frames it in zeros (1 MiB of float32:
cache-resident), rather than zeroing the padding's bands of every block."""

_ROW_COPY_IN_ELEMENTS = 12
"""What one row copy of `im2col` costs beyond its elements, in elements of a transposing
copy: fitted to where `batch_last` stopped paying in the measurements listed there
(11.5-14 separates them; NumPy, float32, 1 thread)."""


def batch_last(windows: tuple[Window, ...], column_rows: int, out_channels: int,
               batch: int) -> bool:
    """Whether a convolution's columns should run over ``(*out, n)`` rather than
    ``(n, *out)``, for ``column_rows = C/G·∏kernel`` rows of ``out_channels = O/G``
    outputs per group and ``batch`` samples. With one sample both orders are the same
    columns, so the batch stays first: no transposing copies (6 µs of the 32→32 3×3
    layer's ~60 at batch 1).

    In ``(n, *out)`` order each kernel offset's block is ``N·∏out[:-1]`` copies of
    ``W_out``-element rows per channel; with the batch last, from a frame of the input
    laid out ``(C, *size, N)``, they are ``N`` times fewer and ``N`` times longer -- but
    the output and its gradient then need a transposing copy each (`from_columns`,
    `to_columns`). So the batch goes last when the rows' copies cost more than those
    two: ``column_rows · cost_of_a_row > 2 · out_channels · W_out`` elements, i.e. when
    the kernel has many rows per output channel or the rows are short. Measured
    (forward + backward, float32, batch 32, 1 thread), batch last paid on 32→32 3×3
    on 8×8 (2.2 → 1.7 ms), 6→16 5×5 on 14×14 (2.0-2.8 → 1.8-2.1), 1→6 5×5 on 28×28
    (0.64 → 0.57) and broke even on 64→64 and 32→64 3×3 on 16×16; it cost on 1→32 3×3
    on 28×28 (0.9 → 1.8-2.0), 3→32 3×3 on 32×32 (1.8-2.3 → 3.2-5.1), 16→32 3×3 on 32×32
    (17.8 → 19.6), 3→16 5×5 on 32×32 (7.9 → 8.4) and 64→128 3×3 on 32×32, batch 8 (41.8
    → 42.9): those keep the batch first.
    """
    return batch > 1 and all(w.pad >= 0 for w in windows) and (
        column_rows * _ROW_COPY_IN_ELEMENTS > 2 * out_channels * windows[-1].out)


_CALL_IN_ELEMENTS = 4096
"""What one more NumPy call costs at batch 1, in elements of a float32 copy or add
(~1 µs), for `bias_apart`."""


@functools.lru_cache(maxsize=256)
def bias_apart(batch: int, windows: tuple[Window, ...], rows: int, per_group: int) -> bool:
    """Whether a convolution in evaluation mode adds its bias after the product ``W @
    cols`` (``rows = K`` rows, ``per_group = O/G`` outputs per group) rather than as
    ``[W b] @ [cols; 1]`` (`minigrad.layers.conv.conv._ConvND._bias_apart`), once per
    geometry: where the pass over the output, ``O/G · P`` elements, costs no more than
    copying ``W`` into ``[W b]`` and the row of ones, ``O/G · (K + 1) + P``, plus the
    copy's call (`_CALL_IN_ELEMENTS`)."""
    columns = batch * math.prod(w.out for w in windows)
    return per_group * columns <= per_group * (rows + 1) + columns + _CALL_IN_ELEMENTS


# -- the convolutions' matrix products --------------------------------------------------


def matmul_nt(a: Array, b: Array) -> Array:
    """``a @ bᵀ`` per group, ``(G, m, P) @ (G, k, P)ᵀ -> (G, m, k)``: a convolution's weight
    gradient ``G @ colsᵀ`` over its ``P = N·∏out`` columns.

    Computed as ``(b @ aᵀ)ᵀ`` when ``b`` has 16 rows or more (or as many as ``a``):
    OpenBLAS runs these thin, long products up to 1.8× faster so -- e.g. 0.40 → 0.22 ms
    for 6 outputs from 25 rows -- but not with under 16 rows (3×3 on 1 channel).
    """
    if b.shape[1] >= min(16, a.shape[1]):
        return transpose_last(grouped_matmul(b, transpose_last(a)))
    product: Array = grouped_matmul(a, transpose_last(b))
    return product


def transpose_last(a: Array) -> Array:
    """``(G, m, n) -> (G, n, m)``, a view where the library makes one."""
    transposed: Array = backend.namespace(a).permute_dims(a, (0, 2, 1))
    return transposed


def swap01(x: Array) -> Array:
    """``(N, C, ...) <-> (C, N, ...)``, a view where the library makes one."""
    swapped: Array = backend.namespace(x).permute_dims(x, (1, 0, *range(2, x.ndim)))
    return swapped


def channel_major(x: Array, groups: int) -> Array:
    """``(N, C, *s) -> (G, C / G, N·∏s)``: free when ``x`` is a view of a (C, N, ...)
    array, as the conv layers' outputs and input gradients are."""
    grouped: Array = backend.namespace(x).reshape(swap01(x), (groups, x.shape[1] // groups, -1))
    return grouped


def to_columns(x: Array, groups: int, batch_last: bool) -> Array:
    """``(N, C, *s) -> (G, C / G, P)``, the columns in `im2col`'s order: `channel_major`,
    or with ``batch_last`` a copy with the columns over ``(*s, n)``."""
    if not batch_last:
        return channel_major(x, groups)
    xp = backend.namespace(x)
    moved = xp.permute_dims(x, (1, *range(2, x.ndim), 0))
    copy: Array = backend.empty_like_shape(x, tuple(moved.shape))
    copy[...] = moved
    grouped: Array = xp.reshape(copy, (groups, x.shape[1] // groups, -1))
    return grouped


def from_columns(product: Array, size: tuple[int, ...], batch_last: bool) -> Array:
    """A product ``(G, C / G, P)`` with `im2col`'s column order as ``(N, C, *size)``:
    a view of ``(C, N, *size)`` memory -- free, or with ``batch_last`` one copy."""
    channels = product.shape[0] * product.shape[1]
    if not batch_last:
        return swap01(backend.reshape(product, (channels, -1, *size)))
    xp = backend.namespace(product)
    moved = xp.reshape(product, (channels, *size, -1))
    out: Array = backend.empty_like_shape(product, (channels, moved.shape[-1], *size))
    out[...] = xp.permute_dims(moved, (0, moved.ndim - 1, *range(1, moved.ndim - 1)))
    return swap01(out)


def col2im(dst: Array, weight: Array, src: Array, windows: tuple[Window, ...],
           batch_last: bool = False) -> None:
    """col2im of ``Wᵀ @ src``: for each kernel offset k, ``dst[in_k] += (W_kᵀ @ src)[out_k]``.

    ``dst (C, N, *size)``, ``weight (O, C/G, *kernel)``, ``src (G, O/G, N·∏out)``; with
    ``batch_last``, ``dst (C, *size, N)`` and ``src``'s columns over ``(*out, n)``
    (`to_columns`): each slice-add then runs along ``N`` contiguous numbers, not along
    rows of ``W_out`` -- 2.0 → 1.1 ms for LeNet-5's second layer's ``dL/dx`` (6 → 16
    channels, 5×5, 8×8 outputs, batch 64).
    """
    xp = backend.namespace(dst)
    groups, out_per_group = src.shape[:2]
    outs = tuple(w.out for w in windows)
    part_shape = ((dst.shape[0], *outs, dst.shape[-1]) if batch_last
                  else (dst.shape[0], dst.shape[1], *outs))
    for ks, ins, out_slices in offsets(windows):
        w_k = xp.reshape(weight[spatial(ks)], (groups, out_per_group, -1))
        part = xp.reshape(grouped_matmul(transpose_last(w_k), src), part_shape)
        if batch_last:
            into: Index = (slice(None), *ins, slice(None))
            read: Index = (slice(None), *out_slices, slice(None))
            dst[into] += part[read]
        else:
            dst[spatial(ins)] += part[spatial(out_slices)]
