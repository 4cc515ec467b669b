"""Matrix products and sums: the formulas of layers, each with NumPy's fastest BLAS call.

A layer writes the product its derivative names -- ``backend.matmul(G, W.T)`` for
``dL/dx = G Wᵀ`` -- and this file decides how it is computed. On every library but
NumPy that is the standard's ``@`` and ``sum``. On NumPy the same BLAS routine is
reached more cheaply, and a small network's step is made of such calls (the blog net's
whole training step takes 20 µs):

* ``np.dot`` rather than ``@`` (``np.matmul``): the same BLAS call with ~0.15 µs less
  dispatch per product, and no copy of a transposed operand in a stack of one matrix;
* ``np.dot(..., out=)``: a product written straight into an existing array (a
  gradient), with no temporary and no addition pass;
* sums over a block of axes as a matrix-vector product with ones: one read at memory
  speed, 2-4× faster than NumPy's reductions on the normalization layers' shapes.

Part of `minigrad.backend`, which re-exports all of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad.backend.namespaces import _library, namespace


def matmul(a: Any, b: Any) -> Any:
    """``a @ b`` for ``a`` of shape ``(k,)``, ``(n, k)`` or ``(..., k)`` and ``b`` a matrix
    ``(k, m)`` (or, for ``a`` of rank <= 2, a vector ``(k,)``).

    The leading axes of an ``a`` of rank > 2 are taken as rows: one matrix product
    ``(∏leading, k) @ (k, m)``, reshaped to ``(..., m)`` -- the product `Dense` applies
    to every position of a sequence. On NumPy, ``np.dot`` (N-D ``np.dot`` is not this
    product, so it gets the rows).
    """
    if type(a) is np.ndarray:
        if a.ndim <= 2:
            return np.dot(a, b)
        return np.dot(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], -1)
    if a.ndim <= 2:
        return a @ b
    xp = namespace(a)
    rows = xp.reshape(a, (-1, a.shape[-1])) @ b
    return xp.reshape(rows, (*a.shape[:-1], rows.shape[-1]))


def matmul_into(a: Any, b: Any, out: Any) -> None:
    """``out[...] = a @ b`` for matrices -- for NumPy and PyTorch written straight into
    ``out`` (``np.dot(..., out=)``, ``torch.matmul(..., out=)``: no temporary), for other
    libraries through one. NumPy's ``out`` must be C-contiguous, of the product's dtype."""
    if type(out) is np.ndarray:
        np.dot(a, b, out=out)
    elif _library(out) == "torch":
        import torch

        torch.matmul(a, b, out=out)
    else:
        out[...] = a @ b


def outer(column: Any, vector: Any) -> Any:
    """``column (R, 1) · vectorᵀ`` for a ``vector`` of ``F`` values (any shape): a new
    ``(R, F)`` array, each entry one product.

    On NumPy ``einsum``'s outer-product loop: a broadcast ``column * vector`` runs
    NumPy's slow per-row inner loop, and BLAS's rank-1 product is no faster (float32,
    2048 × 256, one thread: 120-140 µs, against 160-180 for both).
    """
    if type(column) is np.ndarray:
        return np.einsum("i,j->ij", column.reshape(-1), vector.reshape(-1))
    xp = namespace(column)
    return column @ xp.reshape(vector, (1, -1))


def grouped_matmul(a: Any, b: Any) -> Any:
    """``a @ b`` per group: ``(G, m, k) @ (G, k, n) -> (G, m, n)`` -- the product of a
    grouped convolution. On NumPy, for one group, one ``np.dot`` of the two matrices: a
    single BLAS call, where ``matmul`` may copy a transposed operand first."""
    if type(a) is np.ndarray:
        return np.dot(a[0], b[0])[None] if a.shape[0] == 1 else np.matmul(a, b)
    return a @ b


def sum_rows(a: Any) -> Any:
    """``Σ_i a[i]``: the sum over the first axis (a bias gradient, ``Σ_rows G``).

    On NumPy the array's own ``sum`` method: the same reduction as ``np.sum`` without
    its Python-level dispatch, which costs about as much again on a small array."""
    if type(a) is np.ndarray:
        return a.sum(axis=0)
    return namespace(a).sum(a, axis=0)


def reduce_sum(a: Any, axes: tuple[int, ...], b: Any = None) -> Any:
    """``Σ a`` (or ``Σ a ⊙ b``, without forming the product where it can) over ``axes``,
    dims kept.

    Why not ``a.sum(axes)``: the axes a group spans are a block at one end of the
    array, and a block is summed as a BLAS matrix-vector product with ones -- one read
    of ``a`` at memory speed, 2-4× faster than NumPy's reductions on these shapes
    (float32, 2048 rows of 256: 26 µs against 95 µs). A trailing block is summed first
    (``Σ a ⊙ b`` there as one dot product per row, ``vecdot``: 57-61 µs on those rows,
    73-106 µs as a stacked ``matmul``), then any remaining axes by ``sum`` on the much
    smaller result; a leading block alone, as the affine gradients of layer norm need,
    by ``ones @ a``. Other array libraries: the standard's ``sum``.
    """
    if type(a) is not np.ndarray:
        xp = namespace(a)
        return xp.sum(a if b is None else a * b, axis=axes, keepdims=True)
    summed: Any
    ndim = a.ndim
    tail = 0
    while ndim - 1 - tail in axes:
        tail += 1
    if tail:
        kept, block = a.shape[:ndim - tail], math.prod(a.shape[ndim - tail:])
        rows = a.reshape(-1, block)
        if b is None:
            summed = np.dot(rows, np.ones(block, a.dtype))
        else:  # one dot product per row
            summed = np.vecdot(rows, b.reshape(-1, block))
        summed = summed.reshape(*kept, *(1,) * tail)
        rest = tuple(axis for axis in axes if axis < ndim - tail)
        if rest:
            summed = summed.sum(axis=rest, keepdims=True)
        return summed
    product = a if b is None else a * b
    if axes == tuple(range(len(axes))):
        count = math.prod(a.shape[:len(axes)])
        summed = np.dot(np.ones(count, a.dtype), product.reshape(count, -1))
        return summed.reshape(*(1,) * len(axes), *a.shape[len(axes):])
    return product.sum(axis=axes, keepdims=True)


def mean_square(a: Any, axes: tuple[int, ...]) -> Any | None:
    """``mean(a²)`` over ``axes`` (dims kept, through `reduce_sum`), or None when a sum of
    squares overflowed -- the caller then rescales (a square overflows long before its
    value does: float32 |a| above ~1e19).

    On NumPy the overflow is caught as it happens (``errstate(over="raise")``: nothing to
    check on the ordinary path); other libraries are checked for an ``inf`` in the
    result, one value per group.
    """
    count = math.prod(a.shape[axis] for axis in axes)
    if type(a) is np.ndarray:
        try:
            with np.errstate(over="raise"):
                return reduce_sum(a, axes, a) / count
        except FloatingPointError:
            return None
    xp = namespace(a)
    with np.errstate(over="ignore"):  # array_api_strict computes with NumPy, and warns
        mean = reduce_sum(a, axes, a) / count
    return None if bool(xp.any(xp.isinf(mean))) else mean
