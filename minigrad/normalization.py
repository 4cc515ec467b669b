"""Normalization layers: `BatchNorm1D`, `BatchNorm2D`, `LayerNorm`, `GroupNorm`.

All four standardize groups of values and then apply a per-feature affine map::

    x̂ = (x − μ) / √(σ² + ε)        y = γ ⊙ x̂ + β

and differ only in which axes a group spans: batch norm over the batch and every
axis after the channels (one group per channel), layer norm over the last
``len(normalized_shape)`` axes (one group per sample), group norm over a sample's
channels split into ``num_groups`` blocks. σ² is the biased variance (divided by the
group size ``M``). Formulas, defaults, parameter and buffer names follow PyTorch.

Backward, for one group of ``M`` values and ``Ĝ = dL/dx̂ = G ⊙ γ`` (standardizing
couples the values of a group through μ and σ²)::

    dL/dx = (Ĝ − mean(Ĝ) − x̂ · mean(Ĝ ⊙ x̂)) / √(σ² + ε)
    dL/dγ = Σ G ⊙ x̂        dL/dβ = Σ G        (summed over all but the feature axes)

When fixed statistics are used instead (batch norm in evaluation mode) the group
couples nothing and ``dL/dx = Ĝ / √(σ² + ε)``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.base import (
    Array,
    Buffer,
    Layer,
    Parameter,
    as_grad,
    check_count,
    check_number,
    check_parameter_dtype,
    check_positive,
)
from minigrad.init import SeedLike, make_rng
from minigrad.nd import as_nd

NormCache = tuple[Array, Array, bool]
"""``x̂`` (in the input's layout), ``1/√(σ² + ε)`` (broadcastable to the grouped layout), and whether
the statistics came from the batch (so that backward differentiates through them)."""

_MAX_NDIM = 64


def reduce_sum(a: Array, axes: tuple[int, ...], b: Array | None = None) -> Array:
    """``Σ a`` (or ``Σ a ⊙ b``, without forming the product where it can) over ``axes``,
    dims kept.

    Why not ``a.sum(axes)``: the axes a group spans are a block at one end of the
    array, and a block is summed as a BLAS matrix-vector product with ones -- one read
    of ``a`` at memory speed, 2-4× faster than NumPy's reductions on these shapes
    (float32, 2048 rows of 256: 26 µs against 95 µs). A trailing block is summed first
    (``Σ a ⊙ b`` there as one dot product per row, a stacked ``matmul``), then any
    remaining axes by ``sum`` on the much smaller result; a leading block alone, as
    the affine gradients of layer norm need, by ``ones @ a``. Other array libraries:
    the standard's ``sum``.
    """
    summed: Array
    if type(a) is not np.ndarray:
        xp = backend.namespace(a)
        summed = xp.sum(a if b is None else a * b, axis=axes, keepdims=True)
        return summed
    ndim = a.ndim
    tail = 0
    while ndim - 1 - tail in axes:
        tail += 1
    if tail:
        kept, block = a.shape[:ndim - tail], math.prod(a.shape[ndim - tail:])
        rows = a.reshape(-1, block)
        if b is None:
            summed = np.dot(rows, np.ones(block, a.dtype))
        else:  # one (1, block) @ (block, 1) product per row
            summed = np.matmul(rows[:, None, :], b.reshape(-1, block, 1))
        summed = summed.reshape(*kept, *(1,) * tail)
        rest = tuple(axis for axis in axes if axis < ndim - tail)
        if rest:
            summed = summed.sum(axis=rest, keepdims=True)
        return summed
    product = a if b is None else a * b
    if axes == tuple(range(len(axes))):
        count = math.prod(a.shape[:len(axes)])
        summed = np.dot(np.ones(count, a.dtype), product.reshape(count, -1))
        summed = summed.reshape(*(1,) * len(axes), *a.shape[len(axes):])
        return summed
    summed = product.sum(axis=axes, keepdims=True)
    return summed


def standardize(x: Array, axes: tuple[int, ...], eps: float
                ) -> tuple[Array, Array, Array, Array]:
    """``x̂ = (x − μ)/√(σ² + ε)`` over ``axes``; returns ``x̂``, ``μ``, ``σ²`` and
    ``1/√(σ² + ε)`` (kept dims). The variance is the mean square of the centred values
    (stable, unlike ``E[x²] − μ²``), summed without forming the squares."""
    count = math.prod(x.shape[axis] for axis in axes)
    mean = reduce_sum(x, axes) / count
    xhat = x - mean
    var = reduce_sum(xhat, axes, xhat) / count
    inv_std: Array = 1.0 / backend.namespace(var).sqrt(var + eps)
    xhat *= inv_std
    return xhat, mean, var, inv_std


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
    elif type(g) is np.ndarray:
        grad_in = np.subtract(g, along_xhat, out=along_xhat)
    else:
        grad_in = g - along_xhat
    grad_in -= mean_g
    grad_in *= inv_std
    return grad_in


class _Normalization(Layer[NormCache]):
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
            self.weight.grad += xp.reshape(reduce_sum(g, summed, xhat), self.weight.shape)
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


class _BatchNorm(_Normalization):
    """Batch normalization over (N, C, *): statistics per channel, over N and *."""

    ranks: tuple[int, ...] = ()
    layout: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        name = type(self).__name__
        self.num_features = check_count(name, "num_features", num_features, 1)
        self.eps = eps
        self.momentum = None if momentum is None else check_number(
            name, "momentum", momentum, "None or a number in [0, 1]", lambda v: 0 <= v <= 1
        )
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self._init_affine((self.num_features,), self.affine, rng, dtype)
        self.running_mean: Buffer | None = None
        self.running_var: Buffer | None = None
        self.num_batches_tracked: Buffer | None = None
        if self.track_running_stats:
            self.running_mean = Buffer(np.zeros(self.num_features, self.dtype), "running_mean")
            self.running_var = Buffer(np.ones(self.num_features, self.dtype), "running_var")
            self.num_batches_tracked = Buffer(np.zeros((), np.int64), "num_batches_tracked")

    @override
    def _like(self) -> Array | None:
        like = super()._like()
        return like if like is not None or self.running_mean is None else self.running_mean.data

    @override
    def _validate(self, x: object) -> Array:
        return as_nd(self, x, expected=self.layout.replace("C", str(self.num_features)),
                     ndims=self.ranks, sizes={1: self.num_features}, dtype=self._dtype(),
                     like=self._like())

    @override
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        return (0, *range(2, ndim))

    @override
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_features) + (1,) * (ndim - 2)

    @override
    def _fixed_statistics(self, grouped: Array) -> tuple[Array, Array] | None:
        if self.training or self.running_mean is None or self.running_var is None:
            count = math.prod(grouped.shape) // self.num_features
            if self.training and count == 1:
                raise ValueError(f"{self!r} expected more than 1 value per channel when "
                                 f"training, got input of shape {grouped.shape}")
            return None
        shape = self._affine_shape(grouped.ndim)
        xp = backend.namespace(grouped)
        return (xp.astype(xp.reshape(self.running_mean.data, shape), grouped.dtype, copy=False),
                xp.astype(xp.reshape(self.running_var.data, shape), grouped.dtype, copy=False))

    @override
    def _batch_statistics(self, grouped: Array, mean: Array, var: Array) -> None:
        if not self.training or self.running_mean is None or self.running_var is None:
            return
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.data += 1
        # momentum=None: the cumulative average over all batches so far, as PyTorch.
        m = self.momentum if self.momentum is not None else 1.0 / int(
            self.num_batches_tracked.data)
        count = math.prod(grouped.shape) // self.num_features
        xp = backend.namespace(grouped)
        unbiased = xp.reshape(var, (-1,)) * (count / (count - 1))
        self.running_mean.data *= 1.0 - m
        self.running_mean.data += m * xp.reshape(mean, (-1,))
        self.running_var.data *= 1.0 - m
        self.running_var.data += m * unbiased

    @override
    def extra_repr(self) -> str:
        text = f"{self.num_features}"
        if self.eps != 1e-5:
            text += f", eps={self.eps}"
        if self.momentum != 0.1:
            text += f", momentum={self.momentum}"
        if not self.affine:
            text += ", affine=False"
        if not self.track_running_stats:
            text += ", track_running_stats=False"
        if self.dtype != np.float64:
            text += f", dtype={self.dtype}"
        return text


class BatchNorm1D(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L), as ``torch.nn.BatchNorm1d``.

    In training mode each channel is standardized with the batch's mean and biased
    variance over N (and L), and the running statistics are updated::

        running_mean ← (1 − m) · running_mean + m · μ
        running_var  ← (1 − m) · running_var  + m · σ² · M / (M − 1)

    (the unbiased variance, ``M = N·L`` values per channel). In evaluation mode the
    running statistics are used instead. See the module docstring for backward.

    Shapes: ``(N, C) -> (N, C)``, ``(N, C, L) -> (N, C, L)``; γ = ``weight`` (C,),
    β = ``bias`` (C,).

    Cache: ``x̂``, ``1/√(σ² + ε)`` and whether batch statistics were used.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default 1e-5
        Added to the variance.
    momentum : float in [0, 1] or None, default 0.1
        ``m`` above; None: the cumulative average over ``num_batches_tracked`` batches.
    affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros); False: both are None.
    track_running_stats : bool, default True
        Keep buffers ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked``; False: all three are None and batch statistics are
        used in both modes.
    rng : int, numpy Generator or RandomState, optional
        Taken (and checked) as by every layer with parameters, so that code building
        layers can pass one to each; nothing is drawn -- the initial values are fixed,
        as in PyTorch -- so there is no ``init`` either.
    dtype : float dtype, default float64
        Dtype of the parameters, buffers and computation.

    Raises
    ------
    ValueError
        A bad argument; an input of another rank or channel count, or an empty one; in
        training, a single value per channel; a gradient of the wrong shape.
    TypeError
        A non-floating ``dtype``; a non-real input or gradient.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    ranks = (2, 3)
    layout = "(batch, C) or (batch, C, L)"


class BatchNorm2D(_BatchNorm):
    """Batch normalization of (N, C, H, W), as ``torch.nn.BatchNorm2d``: statistics per
    channel over N, H and W. Everything else as `BatchNorm1D`."""

    ranks = (4,)
    layout = "(batch, C, H, W)"


def _shape_tuple(owner: str, shape: int | Sequence[int]) -> tuple[int, ...]:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not dims:
        raise ValueError(f"{owner}: normalized_shape must not be empty")
    return tuple(check_count(owner, "normalized_shape", d, 1) for d in dims)


class LayerNorm(_Normalization):
    """Layer normalization over the last axes, as ``torch.nn.LayerNorm``.

    Each sample's last ``len(normalized_shape)`` axes are standardized with their own
    mean and biased variance, then ``y = γ ⊙ x̂ + β`` elementwise (γ, β of shape
    ``normalized_shape``). The same in training and evaluation; no buffers. See the
    module docstring for backward.

    Shapes: ``(*, *normalized_shape) -> same``, at least one leading axis.

    Cache: ``x̂`` and ``1/√(σ² + ε)``.

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The trailing shape to normalize over.
    eps : float, default 1e-5
    elementwise_affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros); False: both are None.
    rng : seed, optional
        As `BatchNorm1D` (nothing is drawn).
    dtype : float dtype, default float64

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `BatchNorm1D`, for an input that does not end in ``normalized_shape``.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        *,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.normalized_shape = _shape_tuple("LayerNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        self._init_affine(self.normalized_shape, self.elementwise_affine, rng, dtype)

    @override
    def _validate(self, x: object) -> Array:
        k = len(self.normalized_shape)
        return as_nd(
            self, x, expected=f"(batch, ..., {', '.join(map(str, self.normalized_shape))})",
            ndims=range(k + 1, _MAX_NDIM + 1),
            sizes={-k + i: size for i, size in enumerate(self.normalized_shape)},
            dtype=self._dtype(), like=self._like(),
        )

    @override
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim - len(self.normalized_shape), ndim))

    @override
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        return (1,) * (ndim - len(self.normalized_shape)) + self.normalized_shape

    @override
    def extra_repr(self) -> str:
        text = f"{self.normalized_shape}"
        if self.eps != 1e-5:
            text += f", eps={self.eps}"
        if not self.elementwise_affine:
            text += ", elementwise_affine=False"
        return text


class GroupNorm(_Normalization):
    """Group normalization of (N, C, *), as ``torch.nn.GroupNorm``: each sample's
    channels are split into ``num_groups`` blocks of ``C / num_groups``, each block
    (with all its positions) standardized on its own, then ``γ``, ``β`` per channel.
    The same in training and evaluation; no buffers. ``num_groups=1`` is layer norm
    over (C, *) with per-channel affine; ``num_groups=C`` is instance norm.

    Shapes: ``(N, C, *) -> same``; ``weight``, ``bias`` (C,).

    Cache: ``x̂`` and ``1/√(σ² + ε)``.

    Parameters
    ----------
    num_groups : int
        Must divide ``num_channels``.
    num_channels : int
    eps : float, default 1e-5
    affine : bool, default True
    rng : seed, optional
        As `BatchNorm1D` (nothing is drawn).
    dtype : float dtype, default float64

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `BatchNorm1D`; ``num_groups`` not dividing ``num_channels``.
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.num_groups = check_count("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = check_count("GroupNorm", "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_groups ({self.num_groups}) must divide "
                             f"num_channels ({self.num_channels})")
        self.eps = eps
        self.affine = bool(affine)
        self._init_affine((self.num_channels,), self.affine, rng, dtype)

    @override
    def _validate(self, x: object) -> Array:
        return as_nd(self, x, expected=f"(batch, {self.num_channels}, ...)",
                     ndims=range(2, _MAX_NDIM + 1), sizes={1: self.num_channels},
                     dtype=self._dtype(), like=self._like())

    @override
    def _grouped(self, x: Array) -> Array:
        grouped: Array = backend.namespace(x).reshape(x, (x.shape[0], self.num_groups, -1))
        return grouped

    @override
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        return (2,)

    @override
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_channels) + (1,) * (ndim - 2)

    @override
    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}" + (
            "" if self.eps == 1e-5 else f", eps={self.eps}")
