"""Standardizing groups of values, shared by the normalization layers: `standardize`,
`variance`, `standardize_backward` (summing with `minigrad.backend.reduce_sum`) and the
layers' common bases: `AffineNormalization` (``eps``, the optional per-feature ``weight``
and ``bias``, the compute dtype) and `Normalization` (the generic forward and backward of
a layer that standardizes groups: batch, instance and group norms).

The layer norms (`minigrad.layers.normalization.layer_norm`) fuse the affine map with the
standardization in kernels of their own; the generic `standardize` and
`standardize_backward` here stay the readable reference they are tested against.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.backend import reduce_sum
from minigrad.core import (
    Array,
    CacheT,
    Layer,
    Parameter,
    as_grad,
    check_bool,
    check_parameter_dtype,
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


class AffineNormalization(Layer[CacheT]):
    """What every normalization layer has: ``eps`` (> 0), an optional per-feature
    ``weight`` γ (ones) and ``bias`` β (zeros) -- ``bias`` only with ``weight``, as in
    PyTorch -- and the dtype it computes in."""

    weight: Parameter | None
    bias: Parameter | None

    def _init_affine(self, shape: tuple[int, ...], weight: object, bias: object,
                     rng: SeedLike, dtype: npt.DTypeLike, *, affine: str = "affine") -> None:
        """Check the flags ``weight`` (named ``affine`` in errors, PyTorch's name for it)
        and ``bias``, ``rng`` and ``dtype``; make the parameters of ``shape``."""
        name = type(self).__name__
        has_weight = check_bool(name, affine, weight)
        has_bias = check_bool(name, "bias", bias) and has_weight
        make_rng(rng)  # checked like every layer's seed; nothing is drawn
        dtype = check_parameter_dtype(name, dtype)
        self.dtype = dtype
        self.weight = Parameter(np.ones(shape, dtype), "weight") if has_weight else None
        self.bias = Parameter(np.zeros(shape, dtype), "bias") if has_bias else None

    def _dtype(self) -> np.dtype[Any]:
        """The dtype to compute in: the parameters' (which may have been cast since)."""
        return self.weight.dtype if self.weight is not None else self.dtype

    def _like(self) -> Array | None:
        """An array of the layer's state (parameter or buffer), whose library, device and
        dtype inputs must have; None for a layer without any (computed as given)."""
        return self.weight.data if self.weight is not None else None

    def _affine_repr(self, flag: str, default: bool = True, *, bias: bool = True) -> str:
        """The ``extra_repr`` part of the affine flags that differ from PyTorch's defaults
        (``bias``: whether the layer has that flag)."""
        has_weight = self.weight is not None
        text = f", {flag}={has_weight}" if has_weight != default else ""
        return text + (", bias=False" if bias and has_weight and self.bias is None else "")


class Normalization(AffineNormalization[NormCache]):
    """Shared forward/backward; subclasses say how values are grouped and where the
    affine parameters apply."""

    eps: float

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
        shape = self._affine_shape(x.ndim)
        if self.weight is not None:
            y = y * xp.reshape(self.weight.data, shape)  # y = γ ⊙ x̂ + β
        if self.bias is not None:
            y += xp.reshape(self.bias.data, shape)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        xhat, inv_std, batch_statistics = self.saved()
        g = as_grad(self, grad_out, tuple(xhat.shape), xhat.dtype)
        xp = backend.namespace(g)
        affine_shape = self._affine_shape(xhat.ndim)
        summed = tuple(axis for axis, size in enumerate(affine_shape) if size == 1)
        # frozen parameters accumulate nothing
        if self.bias is not None and self.bias.requires_grad:  # dL/dβ = Σ G
            self.bias.grad += xp.reshape(reduce_sum(g, summed), self.bias.shape)
        if self.weight is not None:
            if self.weight.requires_grad:  # dL/dγ = Σ G ⊙ x̂
                self.weight.grad += xp.reshape(reduce_sum(g, summed, xhat), self.weight.shape)
            g = g * xp.reshape(self.weight.data, affine_shape)  # Ĝ = G ⊙ γ
        if not batch_statistics:  # dL/dx = Ĝ / √(σ² + ε), per group
            fixed: Array = xp.reshape(self._grouped(g) * inv_std, xhat.shape)
            return fixed
        grouped = self._grouped(xhat)
        grad_in = standardize_backward(self._grouped(g), grouped, inv_std,
                                       self._stat_axes(grouped.ndim),
                                       overwrite_g=self.weight is not None)
        reshaped: Array = xp.reshape(grad_in, xhat.shape)
        return reshaped
