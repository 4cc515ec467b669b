"""Loss kernels: the steps of the losses that NumPy does faster than the standard's form.

The third part of `minigrad.backend`, which re-exports all of it. The losses
(`minigrad.losses`) state their formulas against the Array API standard; each function
here is one step of them, named for what it computes, with NumPy's fast path beside the
standard's form, which every other library takes. The fast paths: the checks a NumPy
float array can skip, reductions without the Python wrappers of ``np.sum`` and
``a.sum()`` (which dominate a small batch), one BLAS call for a sum of squares, and
in-place scatters where the standard has only ``where`` over a one-hot mask. Both forms
give the same bits: the same operations in the same order.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

from minigrad.backend.namespaces import _library, asarray, device, namespace, numpy_dtype

_ndarray = np.ndarray  # bound once: ``np.ndarray`` is two lookups a check, 30 ns each

# -- checks: the hot path of a prediction and its target ---------------------------------

def is_numpy_float(array: object, like: object = None) -> TypeGuard[np.ndarray[Any, Any]]:
    """Whether ``array`` is a non-empty floating NumPy array (an ``ndarray`` exactly, no
    subclass) -- of ``like``'s shape and dtype, ``like`` one too, when given.

    Such an array passes the losses' checks unchanged, so they return it at once: the
    checks themselves (`is_foreign`, ``np.asarray``, `numpy_dtype`, the size, a cast)
    would add about a microsecond to `MSELoss`'s step on the blog net's (6, 1) batch, a
    quarter. Any other array takes those checks, which are written for every library.
    """
    if type(array) is not _ndarray:
        return False
    if like is None:
        return array.dtype.kind == "f" and array.size > 0
    return (type(like) is _ndarray and array.shape == like.shape and array.dtype == like.dtype
            and array.dtype.kind == "f" and array.size > 0)


def cast(array: Any, dtype: Any) -> Any:
    """``array`` in ``dtype`` (a dtype of its library): ``array`` itself when it has that
    dtype already, else a converted copy.

    NumPy: the method ``astype(copy=False)``, one call (NumPy 1.x has no ``np.astype``);
    the standard's ``astype`` copies by default, so its form compares the dtypes first.
    """
    if type(array) is _ndarray:
        return array.astype(dtype, copy=False)
    return array if array.dtype == dtype else namespace(array).astype(array, dtype)


def constant_like(values: np.ndarray[Any, Any], like: Any) -> Any:
    """The NumPy ``values`` (a loss's constant: class weights) in the library, device and
    dtype of ``like``.

    NumPy: ``astype(copy=False)``, no copy at all when the dtypes match (float64
    weights on float64 logits, every step); elsewhere a copy moved there (`asarray`).
    """
    if type(like) is _ndarray:
        return values.astype(like.dtype, copy=False)
    return asarray(values.astype(numpy_dtype(like.dtype)), namespace(like), device(like))


# -- reductions ---------------------------------------------------------------------------
# NumPy's are its ufuncs' ``reduce``, called directly: ``a.sum()``, ``a.max()`` call the
# same ``reduce`` with the same arguments through a Python wrapper (numpy/_core/_methods.py),
# and ``np.sum``, ``np.max`` -- the standard's spelling -- through two more: 0.2 µs and
# 1 µs a call on a small batch. The same reduction, so the same bits.
_FLOAT64 = np.dtype(np.float64)  # compared and passed faster than the type np.float64
_add_reduce = np.add.reduce
_max_reduce = np.maximum.reduce
_min_reduce = np.minimum.reduce


def wide_sum(array: Any) -> float:
    """``Σ array`` accumulated in float64 (float32 losses included), as a Python float."""
    if type(array) is _ndarray:
        return float(_add_reduce(array, axis=None, dtype=_FLOAT64))
    xp = namespace(array)
    return float(xp.sum(array, dtype=xp.float64))


def sum_of_squares(array: Any) -> float:
    """``Σ array²`` accumulated in float64, as a Python float, without the array of
    squares (`MSELoss`'s numerator).

    NumPy float64: one BLAS call, ``vdot(a, a)`` (the blog net's hot path). Other NumPy
    dtypes: the squares in float64, summed -- BLAS would accumulate float32 in float32,
    and float16 squares overflow. Elsewhere the same through the standard: a float64
    copy, squared and summed.
    """
    if type(array) is not _ndarray:
        xp = namespace(array)
        wide = xp.astype(array, xp.float64)
        return float(xp.sum(wide * wide))
    if array.dtype == _FLOAT64:
        return float(np.vdot(array, array))
    return float(_add_reduce(np.square(array, dtype=_FLOAT64), axis=None))


def last_axis_max(array: Any) -> Any:
    """``max`` over the last axis, kept as an axis of length 1 (to broadcast back)."""
    if type(array) is _ndarray:
        return _max_reduce(array, axis=-1, keepdims=True)
    return namespace(array).max(array, axis=-1, keepdims=True)


def last_axis_sum(array: Any) -> Any:
    """``Σ`` over the last axis, kept as an axis of length 1 (to broadcast back)."""
    if type(array) is _ndarray:
        return _add_reduce(array, axis=-1, keepdims=True)
    return namespace(array).sum(array, axis=-1, keepdims=True)


def index_bounds(indices: Any) -> tuple[int, int]:
    """The smallest and the largest of the integer ``indices``, as Python ints."""
    if type(indices) is _ndarray:
        return int(_min_reduce(indices, axis=None)), int(_max_reduce(indices, axis=None))
    if _library(indices) == "torch":  # one pass for both (PyTorch's ``aminmax``)
        low, high = indices.aminmax()
        return int(low), int(high)
    xp = namespace(indices)
    return int(xp.min(indices)), int(xp.max(indices))


# -- class-index scatters: writing at ``[..., y]`` along the last axis ---------------------

def _one_hot(indices: Any, classes: int) -> Any:
    """``onehot[..., c] = (c == indices[...])``, bool, in the library of ``indices``."""
    xp = namespace(indices)
    return xp.arange(classes, device=device(indices)) == indices[..., None]


def scatter_last(indices: Any, values: Any, like: Any) -> Any:
    """Zeros of ``like``'s shape ``(..., C)``, dtype and library with ``values[...]`` at
    ``[..., indices[...]]``: ``values`` spread over a one-hot last axis.

    NumPy: ``put_along_axis`` into zeros. The standard has no scatter; ``where`` over
    the one-hot mask of ``indices`` picks the same values.
    """
    if type(like) is _ndarray:
        out = np.zeros(like.shape, like.dtype)
        np.put_along_axis(out, indices[..., None], values[..., None], axis=-1)
        return out
    return namespace(like).where(_one_hot(indices, like.shape[-1]), values[..., None], 0.0)


def subtract_at_last(array: Any, indices: Any, values: Any) -> Any:
    """``array`` with ``values[...]`` subtracted at ``[..., indices[...]]`` along the last
    axis (of length ``C``), 0 elsewhere: ``array − values · onehot(indices)``.

    NumPy: in place in ``array`` (returned), through ``take_along_axis`` and
    ``put_along_axis`` -- ``C`` times fewer subtractions; PyTorch the same, by its
    ``gather`` and ``scatter_``. The standard has no scatter:
    a new array, less ``where`` over the one-hot mask (minus 0 elsewhere: exact).
    """
    if type(array) is _ndarray:
        at = indices[..., None]
        np.put_along_axis(array, at, np.take_along_axis(array, at, axis=-1) - values[..., None],
                          axis=-1)
        return array
    if _library(array) == "torch":  # in place too, through ``gather`` and ``scatter_``
        at = indices[..., None].long()
        return array.scatter_(-1, at, array.gather(-1, at) - values[..., None])
    xp = namespace(array)
    return array - xp.where(_one_hot(indices, array.shape[-1]), values[..., None], 0.0)
