"""In-place kernels of the layers: array writes done once, each library getting its
fastest form.

Part of `minigrad.backend`, which re-exports all of it (the optimizers' kernels are
`minigrad.backend.updates`): the windows' (convolution, pooling)
`zeros_in_layout`, `writable_reshape` and `update_slice`; elementwise results written
into a buffer, `compute_into`, `compute_reusing` and `subtract_row_scaled` (the layer
norms' backward); the sequence layers'
`index_vector`, `take_rows`, `scatter_add_rows`, `assign_rows` and `owned_copy`; the
activations' `select`, `positive_part` and `gate_positive`; and `reshape`. On NumPy
they write through ufuncs' ``out=``; the Array API standard has no ``out=``, so other
libraries compute a temporary and assign it (or return it).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from minigrad.backend.namespaces import _library, device, namespace

# -- window kernels (convolution, pooling): writing into slices ------------------------
# (`update_slice`: NumPy's ufunc ``out=`` into a slice; `zeros_in_layout`: its layout)

def zeros_in_layout(shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """Zeros of ``shape`` and ``dtype`` on ``like``'s library and device.

    On NumPy they are laid out as ``like`` is: channel-major ``(C, N, ...)`` memory
    behind an ``(N, C, ...)`` view when ``like`` is one (the conv layers' outputs are),
    so a pooling layer's gradient keeps the layout the conv's next matrix product wants
    (no transposing copy there). Other libraries: their default (C) order.
    """
    if type(like) is np.ndarray:
        if like.ndim > 1 and like.strides[1] > like.strides[0]:
            swapped = np.zeros((shape[1], shape[0], *shape[2:]), dtype)
            return swapped.swapaxes(0, 1)
        return np.zeros(shape, dtype)
    return namespace(like).zeros(shape, dtype=dtype, device=device(like))


def writable_reshape(array: Any, shape: tuple[int, ...]) -> Any:
    """``array`` reshaped to ``shape`` as a view that writes go through -- or None where
    the library does not promise one (the standard leaves views to the library, and
    ``array_api_strict`` is free to copy). NumPy's and PyTorch's reshapes that only
    split axes are views, also of a slice (`im2col` writes its blocks so)."""
    if type(array) is np.ndarray:
        return array.reshape(shape, copy=False)  # raises rather than copies
    if _library(array) == "torch":
        return array.view(shape)
    return None


def update_slice(dst: Any, index: tuple[Any, ...], op: str,
           value: Any, mask: Any = None) -> None:
    """``dst[index] = op(dst[index], value)`` in place -- ``op`` ``"add"``, ``"maximum"``
    (NaN-propagating) or ``"assign"`` (``dst[index] = value``); with a boolean ``mask``,
    ``value · mask`` (in ``dst``'s dtype) takes ``value``'s place.

    On NumPy the ufunc writes straight into the slice with ``out=``, no temporary; the
    standard has no ``out=``, so other libraries compute into one and assign it.
    """
    if type(dst) is np.ndarray:
        view = dst[index]
        if mask is not None:
            if op == "assign":
                np.multiply(value, mask, dtype=dst.dtype, out=view)
                return
            value = np.multiply(value, mask, dtype=dst.dtype)
        if op == "assign":
            view[...] = value
        else:
            (np.add if op == "add" else np.maximum)(view, value, out=view)
        return
    xp = namespace(dst)
    if mask is not None:
        value = xp.astype(mask, dst.dtype) * value
    dst[index] = value if op == "assign" else getattr(xp, op)(dst[index], value)


# -- elementwise choice ---------------------------------------------------------------


def select(condition: Any, a: Any, b: Any) -> Any:
    """``where(condition, a, b)``: ``a`` where ``condition`` holds, else ``b`` (arrays or
    scalars, broadcast), in their common dtype.

    NumPy's ``where`` branches on every element, and on a mask of random signs (an
    activation's ``x > 0``) it mispredicts: 5.8 ms against 0.3 ms on a sorted one, 524k
    float32 (1 thread). So when ``a`` and ``b`` are finite it computes
    ``a·c + b·(1 − c)`` with ``c`` the mask as 0/1 instead -- exact, each entry being
    one of them plus ±0 -- at about a fifth of the time; otherwise (an inf would make
    ``inf·0`` a NaN) and on other libraries, ``where`` itself.
    """
    if type(condition) is np.ndarray:
        if np.isfinite(a).all() and np.isfinite(b).all():
            chosen = condition.astype(np.result_type(a, b))
            return a * chosen + b * (1.0 - chosen)
        return np.where(condition, a, b)
    return namespace(condition).where(condition, a, b)


def positive_part(x: Any) -> Any:
    """``max(x, 0)``, elementwise (ReLU): the standard's ``maximum``; on PyTorch its own
    ``relu``, one call where the standard's wrapper first makes the 0 a tensor.

    On NumPy, ``maximum`` against an *array* of zeros laid out as ``x`` (`zeros_as`):
    NumPy 2.4's ``maximum`` against a scalar runs ~2.5× slower than against an array
    (a (256, 32, 8, 8) float32 batch: 254 → 99 µs; PyTorch 45). A NaN is returned as it
    is, and the operands are ordered so that ``-0.0`` stays ``-0.0``, as PyTorch's
    ``relu`` (``x < 0 ? 0 : x``) keeps it: on a tie NumPy's float32 and float64 loops
    (SIMD) give their second operand, its other loops (float16, longdouble) their first
    -- on x86 (``maxps``); another processor's ``max`` may break a ±0 tie its own way.
    """
    if type(x) is np.ndarray:
        zeros = 0.0 if x.size < _ZEROS_FROM else zeros_as(x)
        return np.maximum(zeros, x) if x.dtype.char in "fd" else np.maximum(x, zeros)
    if _library(x) == "torch":
        return x.relu()
    return namespace(x).maximum(x, 0.0)


_ZEROS_FROM = 4096
"""Elements from which `positive_part` takes an array of zeros: below, building the view
(~1.4 µs) costs more than the scalar's slower pass saves (even at ~3,000 float32)."""

_ZERO_ELEMENTS = 1 << 18
"""The most elements of the zeros `zeros_as` keeps per dtype (1 MiB of float32)."""

_zeros: dict[Any, Any] = {}


def zeros_as(x: Any) -> Any:
    """Read-only zeros of ``x``'s shape and strides -- a view of one zero buffer kept per
    dtype, broadcast (stride 0) along ``x``'s outermost axes as far as needed to keep
    that buffer within `_ZERO_ELEMENTS`; ``0.0`` where ``x``'s strides do not allow one
    (negative, or not whole elements)."""
    strides, span = _zero_strides(x.shape, x.strides, x.itemsize)
    if span == 0:
        return 0.0
    buffer = _zeros.get(x.dtype)
    if buffer is None or buffer.size < span:
        buffer = np.zeros(span, x.dtype)
        buffer.flags.writeable = False
        _zeros[x.dtype] = buffer
    return np.ndarray(x.shape, x.dtype, buffer, 0, strides)


@functools.lru_cache(maxsize=256)
def _zero_strides(shape: tuple[int, ...], strides: tuple[int, ...], item: int
                  ) -> tuple[tuple[int, ...], int]:
    """`zeros_as`' strides and the elements its buffer spans (0: no zeros array)."""
    if any(s < 0 or s % item for s in strides):
        return strides, 0
    kept = list(strides)
    span = sum((n - 1) * s for n, s in zip(shape, strides)) // item + 1
    for axis in sorted(range(len(shape)), key=lambda a: -strides[a]):  # outermost first
        if span <= _ZERO_ELEMENTS:
            break
        span -= (shape[axis] - 1) * strides[axis] // item
        kept[axis] = 0
    return tuple(kept), span


def gate_positive(values: Any, gate: Any) -> Any:
    """``values ⊙ [gate > 0]``: ``values`` where ``gate > 0``, else 0 -- also where a
    value gated off is ±inf or NaN, as PyTorch (ReLU's backward, gated by its output).

    A product with the mask as 0/1 wherever that is exact -- ``where`` branches on every
    element, and on a ReLU's half-random mask NumPy's runs 10-15× slower (0.25 ms vs
    0.02 ms on a 32×32×8×8 float32 batch), PyTorch's (CPU) ~10× slower than a product --
    and ``where`` itself otherwise. NumPy (and libraries other than PyTorch): the product
    for finite ``values``. PyTorch: the mask as ``sign(gate)`` clipped at 0 (already in
    the values' dtype: ``gate > 0`` makes a bool tensor, itself slower than that), and
    the product kept unless its sum is NaN -- a NaN, or 0 · ±inf, somewhere in it (or
    both infinities) -- which costs one fast reduction, not a pass of ``isfinite``.
    """
    xp = namespace(gate)
    if type(values) is not np.ndarray and _library(values) == "torch":
        product = values * gate.sign().clamp_(min=0)
        if not bool(product.sum().isnan()):
            return product
        return xp.where(gate > 0, values, 0.0)
    if bool(xp.all(xp.isfinite(values))):
        return values * xp.astype(gate > 0, values.dtype)
    return xp.where(gate > 0, values, 0.0)


# -- reshaping ----------------------------------------------------------------------------


def reshape(array: Any, shape: tuple[int, ...]) -> Any:
    """``array`` reshaped to ``shape`` (a view where the library makes one): NumPy's
    method, without looking up the namespace; the standard's ``reshape`` elsewhere."""
    if type(array) is np.ndarray:
        return array.reshape(shape)
    return namespace(array).reshape(array, shape)


# -- elementwise results written into a buffer ------------------------------------------


def compute_into(target: Any, key: Any, op: str, *args: Any) -> None:
    """``target[key] = op(*args)`` for an elementwise function of the standard named
    ``op`` (``"multiply"``, ``"tanh"``, ``"subtract"``, ...).

    NumPy's ufunc writes straight into the view ``target[key]`` (``out=``: no
    temporary), which is what a recurrent cell's step is made of; other libraries
    assign a temporary, since the standard has no ``out=`` and leaves undefined whether
    writing into a view reaches the array it came from. ``key`` is any standard index,
    e.g. ``np.s_[t, :, :h]``.
    """
    if type(target) is np.ndarray:
        getattr(np, op)(*args, out=target[key])
    else:
        target[key] = getattr(namespace(target), op)(*args)


def compute_reusing(buffer: Any, op: str, *args: Any) -> Any:
    """``op(*args)`` for an elementwise function of the standard named ``op``, returned --
    on NumPy written into ``buffer`` (an operand, or a spare array of the result's shape
    and dtype, whose contents are lost): the ufunc's ``out=``, one pass and no
    temporary. Other libraries return a new array and leave ``buffer`` alone (the
    standard has no ``out=``). Use the returned array, never ``buffer``, afterwards."""
    if type(buffer) is np.ndarray:
        return getattr(np, op)(*args, out=buffer)
    return getattr(namespace(buffer), op)(*args)


def subtract_row_scaled(target: Any, rows: Any, column: Any, *, spare: Any) -> None:
    """``target −= rows ⊙ column`` in place, for ``rows (R, F)`` and ``column (R, 1)``
    (one factor per row).

    On NumPy the product is formed in ``spare`` (an ``(R, F)`` array of the dtype that
    is no longer needed; its contents are lost) by ``einsum``'s loop, no temporary: a
    broadcast ``multiply`` calls its inner loop once per short row (float32, 2048 rows
    of 256, one thread: 117-122 µs against 133-147). Other libraries form the product
    as a temporary (the standard has no ``out=``)."""
    if type(target) is np.ndarray:
        np.einsum("ij,i->ij", rows, column.reshape(-1), out=spare)
        target -= spare
    else:
        target -= rows * column


# -- kernels of the sequence layers (embeddings, recurrence) ------------------------------


def index_vector(ids: Any) -> Any:
    """The integer array ``ids`` flattened to one axis, as an index: NumPy's as it is
    (any integer dtype indexes), other libraries' as int64 -- what every library
    indexes with (torch refuses uint8 indices)."""
    if type(ids) is np.ndarray:
        return ids.reshape(-1)
    xp = namespace(ids)
    return xp.astype(xp.reshape(ids, (-1,)), xp.int64)


def take_rows(table: Any, rows: Any) -> Any:
    """``table[rows]`` for a vector of row numbers ``rows`` (from `index_vector`): NumPy's
    indexing, the standard's ``take`` elsewhere (where indexing by an array is optional)."""
    if type(table) is np.ndarray:
        return table[rows]
    return namespace(table).take(table, rows, axis=0)


def owned_copy(array: Any) -> Any:
    """A copy of ``array`` that owns its memory, in ``array``'s library (NumPy's in C
    order): what a layer returns when ``array`` is a view of a buffer it keeps."""
    if type(array) is np.ndarray:
        return array.copy()
    return namespace(array).asarray(array, copy=True)


def scatter_add_rows(target: Any, rows: Any, values: Any) -> None:
    """``target[rows[k]] += values[k]`` for every ``k``, repeated rows summed, in place
    (the gradient of a row lookup, ``y = target[rows]``).

    NumPy: sorting the rows groups the repeats, so one ``add.reduceat`` sums each
    group -- no Python loop over ids and no ``np.add.at`` (measured, 2048 ids of width
    64, float32, 1 thread: 0.3-0.6 ms for this, 1.2-2.4 ms for ``add.at``, 0.55 ms for a
    one-hot product over 100 ids but 75 ms over 10,000). PyTorch: ``index_add_``.
    Otherwise the standard's only form: a one-hot matrix ``(len(rows), len(target))``
    times ``values``, a product that grows with the table (fine for the small tables
    of the strict reference, slow for large vocabularies).
    """
    if type(target) is np.ndarray:
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_rows[1:] != sorted_rows[:-1])))
        target[sorted_rows[starts]] += np.add.reduceat(values[order], starts, axis=0)
    elif _library(target) == "torch":
        target.index_add_(0, rows, values)
    else:
        xp = namespace(target)
        ids = xp.arange(target.shape[0], dtype=rows.dtype, device=device(target))
        one_hot = xp.astype(rows[:, None] == ids[None, :], values.dtype)
        target += one_hot.T @ values


def last_writers(rows: Any, size: int) -> Any:
    """For each of ``size`` slots, the last ``k`` with ``rows[k] == slot``, or -1 where no
    ``k`` writes it (int64): who wins ``target[rows[k]] = values[k]`` in order, so that
    a scatter by repeated rows is the gather ``values[writers]``, the same on every
    library (the standard has no scatter, and libraries differ on repeats).

    NumPy: ``maximum.at``; PyTorch: ``scatter_reduce_("amax")``; otherwise the
    standard's only form, a one-hot comparison ``(len(rows), size)`` (fine for the small
    arrays of the strict reference)."""
    xp = namespace(rows)
    if type(rows) is np.ndarray:
        writers = np.full(size, -1, np.int64)
        np.maximum.at(writers, rows, np.arange(rows.shape[0], dtype=np.int64))
        return writers
    order = xp.arange(rows.shape[0], dtype=xp.int64, device=device(rows))
    if _library(rows) == "torch":
        start = xp.full((size,), -1, dtype=xp.int64, device=device(rows))
        return start.scatter_reduce_(0, rows, order, "amax")
    slots = xp.arange(size, dtype=rows.dtype, device=device(rows))
    hit = rows[:, None] == slots[None, :]
    return xp.max(xp.where(hit, order[:, None], -1), axis=0)
def assign_rows(target: Any, rows: Any, values: Any) -> None:
    """``target[rows[k]] = values[k]`` for every ``k``, in place; a repeated row must
    come with equal values (`Embedding`'s renormalized rows do).

    NumPy and PyTorch: their indexed assignment. Otherwise the standard's only form: a
    one-hot matrix picks, for each row of ``target``, the mean of its values (their
    common value), and ``where`` keeps the rows not listed.
    """
    if type(target) is np.ndarray or _library(target) == "torch":
        target[rows] = values
        return
    xp = namespace(target)
    ids = xp.arange(target.shape[0], dtype=rows.dtype, device=device(target))
    one_hot = xp.astype(rows[:, None] == ids[None, :], values.dtype)
    counts = xp.sum(one_hot, axis=0)[:, None]
    target[...] = xp.where(counts > 0, (one_hot.T @ values) / xp.maximum(counts, 1.0), target)
