"""Interpolation along one axis, as sums of weighted gathers: `Upsample`'s kernels.

Every mode of PyTorch's ``interpolate`` is separable: along one axis of input size
``n_in`` and output size ``n_out``, output ``i`` is a weighted sum of a few inputs,
``y[i] = Σ_t w_t[i] · x[idx_t[i]]`` -- one tap for ``nearest``, two for ``linear``,
four for ``cubic``. So an axis is resampled by one gather per tap (``xp.take``, a
loop over the taps only) and a multi-axis mode by one axis after the other.

The gradient is the adjoint: ``dL/dx[j] = Σ_{(i, t): idx_t[i] = j} w_t[i] · G[i]``. The
same form serves: the pairs are regrouped by input ``j`` (on the host, once per shape),
giving a *transposed* plan whose rank ``r`` gathers ``G`` at the r-th output each input
feeds, times its weight (0 where an input feeds fewer) -- a loop over the most outputs
one input feeds (2 for a ×2 nearest), never over positions. No scatter-add is needed.

The indices and weights follow PyTorch's CPU kernels (``aten/src/ATen/native/UpSample.h``),
computed in the input's precision (float32 stays float32, as PyTorch's ``opmath``):

* the scale is ``1 / scale_factor`` when one is given (and not recomputed), else
  ``n_in / n_out``; with ``align_corners`` it is ``(n_in − 1) / (n_out − 1)`` (0 for one
  output);
* the source coordinate is ``scale · i`` with ``align_corners``, else
  ``scale · (i + ½) − ½`` (clamped at 0, except for cubic);
* ``nearest``: ``min(⌊scale · i⌋, n_in − 1)``; ``nearest-exact``:
  ``min(⌊scale · (i + ½)⌋, n_in − 1)``;
* ``linear``: ``x0 = min(⌊s⌋, n_in − 1)``, ``λ = clamp(s − x0, 0, 1)``, the inputs ``x0``
  and ``min(x0 + 1, n_in − 1)`` weighted ``1 − λ`` and ``λ`` (an axis that keeps its
  size is copied);
* ``cubic``: Keys' kernel with ``A = −0.75`` at ``t = s − ⌊s⌋`` on the inputs
  ``⌊s⌋ − 1 … ⌊s⌋ + 2``, clamped to the edges.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.core import Array

CUBIC_A = -0.75
"""The cubic convolution's ``A``, PyTorch's (and ONNX Resize's ``cubic_coeff_a``)."""


@dataclass(frozen=True)
class Taps:
    """``y[i] = Σ_r weights[r, i] · x[indices[r, i]]`` along one axis; ``weights`` None
    means all ones. Host (NumPy) arrays ``(taps, n_out)``."""

    indices: np.ndarray[Any, np.dtype[np.int64]]
    weights: np.ndarray[Any, Any] | None


@dataclass(frozen=True)
class AxisPlan:
    """One axis' resampling, ``size`` inputs to ``out`` outputs: the forward taps and
    their adjoint's."""

    size: int
    out: int
    forward: Taps
    backward: Taps


def _source(scale: Any, out: int, align_corners: bool, cubic: bool, dtype: Any) -> Any:
    """PyTorch's ``area_pixel_compute_source_index`` for every output, in ``dtype``."""
    i = np.arange(out, dtype=dtype)
    if align_corners:
        return scale * i
    src = scale * (i + dtype(0.5)) - dtype(0.5)
    return src if cubic else np.maximum(src, dtype(0))


def _scale(size: int, out: int, align_corners: bool, scale_factor: float | None,
           dtype: Any) -> Any:
    """PyTorch's ``area_pixel_compute_scale`` in ``dtype``."""
    if align_corners:
        return dtype(size - 1) / dtype(out - 1) if out > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(size) / dtype(out)


def _cubic_weights(t: Any) -> Any:
    """Keys' cubic convolution weights ``(4, n)`` for the fractions ``t`` ``(n,)``."""
    a = t.dtype.type(CUBIC_A)

    def near(x: Any) -> Any:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Any) -> Any:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)])


def _forward_taps(mode: str, size: int, out: int, align_corners: bool,
                  scale_factor: float | None, dtype: Any) -> Taps:
    """The taps of ``mode`` (``nearest``, ``nearest-exact``, ``linear``, ``cubic``)."""
    last = size - 1
    if mode in ("nearest", "nearest-exact"):
        scale = _scale(size, out, False, scale_factor, dtype)
        i = np.arange(out, dtype=dtype)
        src = scale * (i + dtype(0.5)) if mode == "nearest-exact" else scale * i
        index = np.minimum(np.floor(src).astype(np.int64), last)
        return Taps(index[None], None)
    if mode == "linear":
        if out == size:  # PyTorch copies an axis that keeps its size, whatever the scale
            return Taps(np.arange(size, dtype=np.int64)[None], None)
        src = _source(_scale(size, out, align_corners, scale_factor, dtype), out,
                      align_corners, False, dtype)
        low = np.minimum(np.floor(src).astype(np.int64), last)
        lam = np.clip(src - low.astype(dtype), 0, 1).astype(dtype)
        high = low + (low < last)
        return Taps(np.stack([low, high]), np.stack([1 - lam, lam]))
    src = _source(_scale(size, out, align_corners, scale_factor, dtype), out, align_corners,
                  True, dtype)
    floor = np.minimum(np.floor(src).astype(np.int64), last)
    t = np.clip(src - floor.astype(dtype), 0, 1).astype(dtype)
    index = np.clip(floor[None] + np.arange(-1, 3)[:, None], 0, last)
    return Taps(index, _cubic_weights(t))


def _transposed(taps: Taps, size: int) -> Taps:
    """The adjoint's taps: for each input ``j``, the outputs it feeds and their weights,
    rank by rank (weight 0 where ``j`` feeds fewer than the most any input feeds)."""
    count, out = taps.indices.shape
    weights = np.ones((count, out)) if taps.weights is None else taps.weights
    feeds = taps.indices.reshape(-1)
    outputs = np.tile(np.arange(out, dtype=np.int64), count)
    values = weights.reshape(-1)
    keep = values != 0  # a zero weight adds nothing
    feeds, outputs, values = feeds[keep], outputs[keep], values[keep]
    order = np.lexsort((outputs, feeds))
    feeds, outputs, values = feeds[order], outputs[order], values[order]
    per_input = np.bincount(feeds, minlength=size)
    rank = np.arange(len(feeds)) - (np.cumsum(per_input) - per_input)[feeds]
    ranks = max(int(per_input.max()), 1)
    indices = np.zeros((ranks, size), np.int64)
    gathered = np.zeros((ranks, size), weights.dtype)
    indices[rank, feeds], gathered[rank, feeds] = outputs, values
    unit = taps.weights is None and bool(np.all(per_input == ranks))
    return Taps(indices, None if unit else gathered)


@functools.lru_cache(maxsize=256)
def axis_plan(mode: str, size: int, out: int, align_corners: bool,
              scale_factor: float | None, dtype_name: str) -> AxisPlan:
    """The plan of one axis (cached: a model resamples the same shapes every step)."""
    dtype = np.dtype(np.float32 if dtype_name == "float32" else np.float64).type
    taps = _forward_taps(mode, size, out, align_corners, scale_factor, dtype)
    return AxisPlan(size, out, taps, _transposed(taps, size))


def output_length(size: int, scale_factor: float) -> int:
    """PyTorch's output size for ``scale_factor``: ``⌊size · scale_factor⌋`` (in double)."""
    return math.floor(size * scale_factor)


def gather_sum(x: Array, taps: Taps, axis: int) -> Array:
    """``Σ_r weights[r] · take(x, indices[r], axis)``, the weights broadcast along
    ``axis``: one gather per tap."""
    xp = backend.namespace(x)
    trailing = (1,) * (x.ndim - axis - 1)
    total: Array | None = None
    for r in range(taps.indices.shape[0]):
        term = xp.take(x, backend.asarray_like(taps.indices[r], x), axis=axis)  # a new array
        if taps.weights is not None:
            weight = taps.weights[r].astype(backend.numpy_dtype(x.dtype))
            term *= xp.reshape(backend.asarray_like(weight, x), (-1, *trailing))
        if total is None:
            total = term
        else:
            total += term
    assert total is not None
    return total


def resample(x: Array, plans: tuple[AxisPlan, ...]) -> Array:
    """``x (N, C, *size)`` resampled along each spatial axis by its plan."""
    for axis, plan in enumerate(plans, start=2):
        x = gather_sum(x, plan.forward, axis)
    return x


def resample_backward(grad: Array, plans: tuple[AxisPlan, ...]) -> Array:
    """The adjoint of `resample`: the axes in reverse order, each by its transposed taps."""
    for axis in range(len(plans) + 1, 1, -1):
        grad = gather_sum(grad, plans[axis - 2].backward, axis)
    return grad
