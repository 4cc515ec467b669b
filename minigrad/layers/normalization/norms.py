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
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.backend import reduce_sum
from minigrad.core import (
    Array,
    Buffer,
    as_grad,
    check_count,
    check_number,
)
from minigrad.core.nd import as_nd
from minigrad.init import SeedLike
from minigrad.layers.normalization.standardization import (
    Normalization,
    NormCache,
    layer_norm,
    layer_norm_backward,
    standardize,
    standardize_backward,
)

__all__ = [
    "BatchNorm1D",
    "BatchNorm2D",
    "GroupNorm",
    "LayerNorm",
    "NormCache",
    "Normalization",
    "reduce_sum",
    "standardize",
    "standardize_backward",
]

_MAX_NDIM = 64


class _BatchNorm(Normalization):
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


class LayerNorm(Normalization):
    """Layer normalization over the last axes, as ``torch.nn.LayerNorm``.

    Each sample's last ``len(normalized_shape)`` axes are standardized with their own
    mean and biased variance, then ``y = γ ⊙ x̂ + β`` elementwise (γ, β of shape
    ``normalized_shape``). The same in training and evaluation; no buffers. See the
    module docstring for backward.

    Shapes: ``(*, *normalized_shape) -> same``, at least one leading axis.

    Cache: the centred input ``x − μ`` (not ``x̂``: the affine map is fused with the
    standardization, see `minigrad.layers.normalization.standardization.layer_norm`) and
    ``1/√(σ² + ε)``.

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
    def forward(self, x: Array) -> Array:
        x = self._validate(x)
        xp = backend.namespace(x)
        rows = xp.reshape(x, (-1, math.prod(self.normalized_shape)))
        weight, bias = self.weight, self.bias
        y, centred, inv_std = layer_norm(
            rows, self.eps, None if weight is None else weight.data,
            None if bias is None else bias.data,
        )
        self.cache = (xp.reshape(centred, x.shape), inv_std, True)
        reshaped: Array = xp.reshape(y, x.shape)
        return reshaped

    @override
    def backward(self, grad_out: Array) -> Array:
        centred, inv_std, _ = self.saved()
        g = as_grad(self, grad_out, tuple(centred.shape), centred.dtype)
        xp = backend.namespace(g)
        features = math.prod(self.normalized_shape)
        grad_in = layer_norm_backward(xp.reshape(g, (-1, features)),
                                      xp.reshape(centred, (-1, features)), inv_std,
                                      self.weight, self.bias)
        reshaped: Array = xp.reshape(grad_in, tuple(g.shape))
        return reshaped

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


class GroupNorm(Normalization):
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
