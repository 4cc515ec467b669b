"""Standardizing groups of values, shared by the normalization layers: `standardize`,
`standardize_backward` (summing with `minigrad.backend.reduce_sum`) and their common
layer, `Normalization`.

`minigrad.layers.normalization.norms` (which re-exports these) has the layers and the math of the
whole family; this module is the part all four share.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.backend import matmul, reduce_sum
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_grad,
    check_parameter_dtype,
    check_positive,
)
from minigrad.init import SeedLike, make_rng

NormCache = tuple[Array, Array, bool]
"""``x̂`` (in the input's layout), ``1/√(σ² + ε)`` (broadcastable to the grouped layout), and whether
the statistics came from the batch (so that backward differentiates through them)."""

def standardize(x: Array, axes: tuple[int, ...], eps: float
                ) -> tuple[Array, Array, Array, Array]:
    """``x̂ = (x − μ)/√(σ² + ε)`` over ``axes``; returns ``x̂``, ``μ``, ``σ²`` and
    ``1/√(σ² + ε)`` (kept dims). The variance is the mean square of the centred values
    (stable, unlike ``E[x²] − μ²``), summed without forming the squares; see
    `variance` for values whose squares overflow."""
    count = math.prod(x.shape[axis] for axis in axes)
    mean = reduce_sum(x, axes) / count
    xhat = x - mean
    var, inv_std = variance(xhat, axes, eps)
    xhat *= inv_std
    return xhat, mean, var, inv_std


def variance(centred: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array]:
    """``σ² = mean(d²)`` of the centred values ``d`` over ``axes`` and ``1/√(σ² + ε)``,
    kept dims -- finite and right whenever ``d`` is finite.

    A square overflows long before its value does (float32: |d| above ~1e19), and
    ``1/√inf = 0`` would silently zero the group. When a sum of squares overflows
    (`backend.mean_square` says so), the variance is recomputed from ``d / s``,
    ``s = max|d|`` per group (at least 1, so the other groups come out as before):
    ``1/√(σ² + ε) = 1 / (s √(mean((d/s)²) + ε/s²))``. The σ² returned for such a group
    is ``s² · mean((d/s)²)``, ``inf`` where even σ² is beyond the dtype (only running
    statistics read it).
    """
    var = backend.mean_square(centred, axes)  # σ² = mean(d²)
    if var is None:  # a square overflowed
        count = math.prod(centred.shape[axis] for axis in axes)
        return _scaled_variance(centred, axes, eps, count)
    inv_std: Array = 1.0 / backend.namespace(centred).sqrt(var + eps)
    return var, inv_std


def _scaled_variance(centred: Array, axes: tuple[int, ...], eps: float, count: int
                     ) -> tuple[Array, Array]:
    """`variance` from ``d / s``, ``s = max(max|d|, 1)`` per group: no square overflows."""
    xp = backend.namespace(centred)
    largest = xp.max(xp.abs(centred), axis=axes, keepdims=True)
    scale = xp.where(largest > 1.0, largest, xp.ones_like(largest))
    scaled = centred / scale
    share = reduce_sum(scaled, axes, scaled) / count  # mean((d/s)²), in (0, 1]
    with np.errstate(over="ignore"):  # s² overflows where σ² is beyond the dtype: inf
        inv_std: Array = 1.0 / (scale * xp.sqrt(share + eps / (scale * scale)))
        var = share * (scale * scale)
    return var, inv_std


def standardize_backward(g: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...],
                         *, overwrite_g: bool = False) -> Array:
    """``dL/dx = (Ĝ − mean(Ĝ) − x̂ · mean(Ĝ ⊙ x̂)) · inv_std``, means over ``axes``;
    ``overwrite_g``: ``g`` is a temporary that may become the result (in-place
    updates are the cheapest passes)."""
    count = math.prod(xhat.shape[axis] for axis in axes)
    mean_g = reduce_sum(g, axes) / count
    along_xhat = xhat * (reduce_sum(g, axes, xhat) / count)
    if overwrite_g:
        grad_in = g
        grad_in -= along_xhat
    else:  # into along_xhat's memory where the library can
        grad_in = backend.compute_reusing(along_xhat, "subtract", g, along_xhat)
    grad_in -= mean_g
    grad_in *= inv_std
    return grad_in


def layer_norm(rows: Array, eps: float, weight: Array | None, bias: Array | None
               ) -> tuple[Array, Array, Array]:
    """Layer norm of ``rows (R, F)``, each row its own group; returns ``y``, the centred
    rows ``d = x − μ`` and ``r = 1/√(σ² + ε)`` ``(R, 1)``, the cache of the backward.

    The affine map is fused with the standardization: ``y = (r γᵀ) ⊙ d + β``, the outer
    product ``r γᵀ`` one BLAS call. Why: NumPy broadcasts a per-row value (``× r``) at
    half the speed of an elementwise product of two arrays (its inner loop runs over a
    short row with a stride-0 operand), and this form has one such pass, ``x − μ``,
    where ``x̂ = d · r`` and ``γ ⊙ x̂`` had two (float32, 2048 rows of 256: ~95 µs
    against ~50 µs a pass).
    """
    count = rows.shape[1]
    mean = reduce_sum(rows, (1,)) / count
    centred = rows - mean
    inv_std = variance(centred, (1,), eps)[1]
    if weight is None or bias is None:
        return centred * inv_std, centred, inv_std
    y = _outer(inv_std, backend.namespace(weight).reshape(weight, (-1,)))  # r γᵀ
    y *= centred
    y += backend.namespace(bias).reshape(bias, (-1,))
    return y, centred, inv_std


def layer_norm_backward(g: Array, centred: Array, inv_std: Array,
                        weight: Parameter | None, bias: Parameter | None) -> Array:
    """``dL/dx`` of `layer_norm` for ``g = dL/dy (R, F)``, adding ``dL/dγ``, ``dL/dβ``.

    With ``P = G ⊙ d``, ``a = mean_row(Ĝ) = G γ / F`` and ``b = mean_row(Ĝ ⊙ x̂) / r =
    P γ / F`` (matrix-vector products; ``Ĝ`` and ``x̂`` are never formed), the general
    ``r (Ĝ − mean(Ĝ) − x̂ · mean(Ĝ ⊙ x̂))`` is::

        dL/dx = (r γᵀ) ⊙ G − d ⊙ r³ b − r a      dL/dγ = rᵀ P      dL/dβ = 1ᵀ G

    (without the affine map, γ = 1: ``a`` and ``b`` are row means, the first term r G).
    """
    xp = backend.namespace(g)
    count = g.shape[1]
    product = g * centred  # P
    if weight is None or bias is None:
        mean_g = reduce_sum(g, (1,)) / count
        along = reduce_sum(product, (1,)) / count
        grad_in = g * inv_std
    else:
        gamma = xp.reshape(weight.data, (-1,))
        if weight.requires_grad:  # frozen parameters accumulate nothing
            weight.grad += xp.reshape(matmul(xp.reshape(inv_std, (-1,)), product), weight.shape)
        if bias.requires_grad:
            bias.grad += xp.reshape(reduce_sum(g, (0,)), bias.shape)
        mean_g = xp.reshape(matmul(g, gamma), (-1, 1)) / count
        along = xp.reshape(matmul(product, gamma), (-1, 1)) / count
        grad_in = _outer(inv_std, gamma)
        grad_in *= g
    # d ⊙ r³ b, into P's buffer (P is summed up: no second temporary)
    along *= inv_std  # b r³ one factor at a time: r³ alone under- or overflows in float32
    along *= inv_std  # (σ above ~1e13, or a constant row with a tiny ε)
    along *= inv_std
    backend.compute_into(product, (Ellipsis,), "multiply", centred, along)
    grad_in -= product
    grad_in -= mean_g * inv_std
    return grad_in


def _outer(column: Array, vector: Array) -> Array:
    """``column (R, 1) · vectorᵀ (F,)`` as an ``(R, F)`` array: one BLAS product."""
    xp = backend.namespace(column)
    out: Array = backend.empty_like_shape(column, (column.shape[0], vector.shape[0]))
    backend.matmul_into(column, xp.reshape(vector, (1, -1)), out)
    return out


class Normalization(Layer[NormCache]):
    """Shared forward/backward; subclasses say how values are grouped and where the
    affine parameters apply."""

    weight: Parameter | None
    bias: Parameter | None
    eps: float

    def _init_affine(self, shape: tuple[int, ...], affine: bool, rng: SeedLike,
                     dtype: npt.DTypeLike) -> None:
        name = type(self).__name__
        make_rng(rng)  # checked like every layer's seed; nothing is drawn
        self.eps = check_positive(name, "eps", self.eps)
        dtype = check_parameter_dtype(name, dtype)
        self.dtype = dtype
        self.weight = Parameter(np.ones(shape, dtype), "weight") if affine else None
        self.bias = Parameter(np.zeros(shape, dtype), "bias") if affine else None

    def _dtype(self) -> np.dtype[Any]:
        """The dtype to compute in: the parameters' (which may have been cast since)."""
        return self.weight.dtype if self.weight is not None else self.dtype

    def _like(self) -> Array | None:
        """An array of the layer's state (parameter or buffer), whose library, device and
        dtype inputs must have; None for a layer without any (computed as given)."""
        return self.weight.data if self.weight is not None else None

    # -- what subclasses define --------------------------------------------------------
    @abstractmethod
    def _validate(self, x: object) -> Array:
        """The input, checked, in the layer's dtype."""

    def _grouped(self, x: Array) -> Array:
        """``x`` laid out so that each group spans `_stat_axes` (a view)."""
        return x

    @abstractmethod
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        """The axes of the grouped layout that one set of statistics spans."""

    @abstractmethod
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        """The shape (of rank ``ndim``) γ and β take to broadcast against the input."""

    def _fixed_statistics(self, grouped: Array) -> tuple[Array, Array] | None:
        """(μ, σ²) to use instead of the batch's, or None; may update running state."""
        return None

    def _batch_statistics(self, grouped: Array, mean: Array, var: Array) -> None:
        """Called with the batch's statistics in training: update running state."""

    # -- the kernel ----------------------------------------------------------------------
    @override
    def forward(self, x: Array) -> Array:
        x = self._validate(x)
        xp = backend.namespace(x)
        grouped = self._grouped(x)
        axes = self._stat_axes(grouped.ndim)
        fixed = self._fixed_statistics(grouped)
        if fixed is None:
            xhat, mean, var, inv_std = standardize(grouped, axes, self.eps)
            self._batch_statistics(grouped, mean, var)
        else:
            mean, var = fixed
            inv_std = 1.0 / xp.sqrt(var + self.eps)
            xhat = grouped - mean
            xhat *= inv_std
        y: Array = xp.reshape(xhat, x.shape)
        self.cache = (y, inv_std, fixed is None)
        if self.weight is not None and self.bias is not None:
            shape = self._affine_shape(x.ndim)
            y = y * xp.reshape(self.weight.data, shape)
            y += xp.reshape(self.bias.data, shape)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        xhat, inv_std, batch_statistics = self.saved()
        g = as_grad(self, grad_out, tuple(xhat.shape), xhat.dtype)
        xp = backend.namespace(g)
        if self.weight is not None and self.bias is not None:
            affine_shape = self._affine_shape(xhat.ndim)
            summed = tuple(axis for axis, size in enumerate(affine_shape) if size == 1)
            if self.weight.requires_grad:  # frozen parameters accumulate nothing
                self.weight.grad += xp.reshape(reduce_sum(g, summed, xhat), self.weight.shape)
            if self.bias.requires_grad:
                self.bias.grad += xp.reshape(reduce_sum(g, summed), self.bias.shape)
            g = g * xp.reshape(self.weight.data, affine_shape)
        if not batch_statistics:
            fixed: Array = g * inv_std
            return fixed
        grouped = self._grouped(xhat)
        grad_in = standardize_backward(self._grouped(g), grouped, inv_std,
                                       self._stat_axes(grouped.ndim),
                                       overwrite_g=self.weight is not None)
        reshaped: Array = xp.reshape(grad_in, xhat.shape)
        return reshaped
