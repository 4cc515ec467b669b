"""Batch normalization, `BatchNorm1D`, `BatchNorm2D` and `BatchNorm3D`, and the running
statistics it shares with instance normalization (`RunningNormalization`).

Both standardize each channel of ``(N, C, *)`` values; batch norm's groups span the
batch and the positions (one group per channel), instance norm's only the positions of
one sample (one group per sample and channel). In training each keeps a running
average of the statistics it saw, which evaluation mode then uses instead::

    running_mean ← (1 − m) · running_mean + m · μ
    running_var  ← (1 − m) · running_var  + m · σ² · M / (M − 1)

(the unbiased variance of the ``M`` values of a group; instance norm averages its
groups' statistics over the batch first). Formulas, defaults, parameter and buffer names
follow PyTorch; see `minigrad.layers.normalization.standardization` for backward.
"""


from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.core import (
    Array,
    Buffer,
    check_bool,
    check_count,
    check_number,
    check_positive,
)
from minigrad.core.nd import as_nd
from minigrad.init import SeedLike
from minigrad.layers.normalization.standardization import Normalization


class RunningNormalization(Normalization):
    """Per-channel standardization of ``(N, C, *)`` with optional running statistics: the
    arguments, buffers and evaluation mode that batch and instance norms share.

    Batch statistics are used in training and, without ``track_running_stats``, in
    evaluation too; the running ones in evaluation otherwise. Subclasses say which
    values form a group (`_grouped`, `_stat_axes`) and how a batch's group statistics
    become one value per channel (`_channel_statistics`).
    """

    ranks: tuple[int, ...] = ()
    layout: str = ""
    affine_default: bool = True  # PyTorch's default of affine and track_running_stats
    cumulative: bool = True  # whether momentum=None (the cumulative average) is allowed
    too_few = "more than 1 value per channel"  # the error when a group has one value

    def __init__(
        self,
        num_features: int,
        eps: float,
        momentum: float | None,
        affine: bool,
        track_running_stats: bool,
        bias: bool,
        rng: SeedLike,
        dtype: npt.DTypeLike,
    ) -> None:
        name = type(self).__name__
        self.num_features = check_count(name, "num_features", num_features, 1)
        self.eps = check_positive(name, "eps", eps)
        if momentum is None and self.cumulative:
            self.momentum: float | None = None
        else:
            rule = ("None or a number in [0, 1]" if self.cumulative else
                    "a number in [0, 1] (PyTorch's instance norms have no momentum=None)")
            self.momentum = check_number(name, "momentum", momentum, rule,
                                         lambda v: 0 <= v <= 1)
        self.track_running_stats = check_bool(name, "track_running_stats",
                                              track_running_stats)
        self._init_affine((self.num_features,), affine, bias, rng, dtype)
        self.affine = self.weight is not None
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
        checked = as_nd(self, x, expected=self.layout.replace("C", str(self.num_features)),
                        ndims=self.ranks, sizes={1: self.num_features}, dtype=self._dtype(),
                        like=self._like())
        batch_statistics = self.training or self.running_mean is None
        if batch_statistics and self._group_size(tuple(checked.shape)) == 1:
            # σ² = 0: every output would be β, whatever the input
            raise ValueError(f"{self!r} expected {self.too_few} when using batch "
                             f"statistics, got input of shape {tuple(checked.shape)}")
        return checked

    @abstractmethod
    def _group_size(self, shape: tuple[int, ...]) -> int:
        """How many values of an input of ``shape`` one group holds."""

    @override
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_features) + (1,) * (ndim - 2)

    @abstractmethod
    def _channel_statistics(self, grouped: Array, mean: Array, var: Array
                            ) -> tuple[Array, Array, float]:
        """The batch's (μ, σ²) per channel ``(C,)`` from its groups' statistics, and the
        share ``m`` of them the running statistics take (`_update_running`)."""

    @override
    def _fixed_statistics(self, grouped: Array) -> tuple[Array, Array] | None:
        if self.training or self.running_mean is None or self.running_var is None:
            return None
        shape = self._affine_shape(grouped.ndim)
        xp = backend.namespace(grouped)
        return (xp.astype(xp.reshape(self.running_mean.data, shape), grouped.dtype, copy=False),
                xp.astype(xp.reshape(self.running_var.data, shape), grouped.dtype, copy=False))

    @override
    def _batch_statistics(self, grouped: Array, mean: Array, var: Array) -> None:
        if not self.training or self.running_mean is None or self.running_var is None:
            return
        batch_mean, unbiased_var, m = self._channel_statistics(grouped, mean, var)
        self.running_mean.data *= 1.0 - m
        self.running_mean.data += m * batch_mean
        self.running_var.data *= 1.0 - m
        self.running_var.data += m * unbiased_var

    def _unbiased(self, grouped: Array, var: Array) -> Array:
        """``σ² · M / (M − 1)`` for groups of ``M`` values (``M > 1``: `_validate`)."""
        count = math.prod(grouped.shape[axis] for axis in self._stat_axes(grouped.ndim))
        unbiased: Array = var * (count / (count - 1))
        return unbiased

    @override
    def extra_repr(self) -> str:
        text = f"{self.num_features}"
        if self.eps != 1e-5:
            text += f", eps={self.eps}"
        if self.momentum != 0.1:
            text += f", momentum={self.momentum}"
        text += self._affine_repr("affine", self.affine_default)
        if self.track_running_stats != self.affine_default:
            text += f", track_running_stats={self.track_running_stats}"
        if self.dtype != np.float64:
            text += f", dtype={self.dtype}"
        return text


class _BatchNorm(RunningNormalization):
    """Batch normalization over (N, C, *): statistics per channel, over N and *."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias, rng,
                         dtype)

    @override
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        return (0, *range(2, ndim))

    @override
    def _group_size(self, shape: tuple[int, ...]) -> int:
        return math.prod(shape) // self.num_features

    @override
    def _channel_statistics(self, grouped: Array, mean: Array, var: Array
                            ) -> tuple[Array, Array, float]:
        assert self.num_batches_tracked is not None  # tracking: the buffers exist
        self.num_batches_tracked.data += 1
        # momentum=None: the cumulative average over all batches so far, as PyTorch.
        m = self.momentum if self.momentum is not None else 1.0 / int(
            self.num_batches_tracked.data)
        xp = backend.namespace(grouped)
        return (xp.reshape(mean, (-1,)), xp.reshape(self._unbiased(grouped, var), (-1,)), m)


class BatchNorm1D(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L), as ``torch.nn.BatchNorm1d``.

    In training mode each channel is standardized with the batch's mean and biased
    variance over N (and L), ``y = γ ⊙ (x − μ)/√(σ² + ε) + β``, and the running
    statistics are updated::

        running_mean ← (1 − m) · running_mean + m · μ
        running_var  ← (1 − m) · running_var  + m · σ² · M / (M − 1)

    (the unbiased variance, ``M = N·L`` values per channel). In evaluation mode the
    running statistics are used instead. See
    `minigrad.layers.normalization.standardization` for backward.

    Shapes: ``(N, C) -> (N, C)``, ``(N, C, L) -> (N, C, L)``; γ = ``weight`` (C,),
    β = ``bias`` (C,).

    Cache: ``x̂``, ``1/√(σ² + ε)`` and whether batch statistics were used.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default 1e-5
        Added to the variance; > 0.
    momentum : float in [0, 1] or None, default 0.1
        ``m`` above; None: the cumulative average, ``m = 1/num_batches_tracked``.
    affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros); False: both are None.
    track_running_stats : bool, default True
        Keep buffers ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked`` (0, counting the training batches); False: all three
        are None and batch statistics are used in both modes.
    bias : bool, default True
        False: only ``weight`` is learned (``bias`` is None), as PyTorch's keyword.
    rng : int, numpy Generator or RandomState, optional
        Taken (and checked) as by every layer with parameters, so that code building
        layers can pass one to each; nothing is drawn -- the initial values are fixed,
        as in PyTorch -- so there is no ``init`` either.
    dtype : float dtype, default float64
        Dtype of the parameters, buffers and computation.

    Raises
    ------
    ValueError
        A bad argument (naming it); an input of another rank or channel count, or an
        empty one; with batch statistics, a single value per channel; a gradient of the
        wrong shape.
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


class BatchNorm3D(_BatchNorm):
    """Batch normalization of (N, C, D, H, W), as ``torch.nn.BatchNorm3d``: statistics
    per channel over N, D, H and W. Everything else as `BatchNorm1D`."""

    ranks = (5,)
    layout = "(batch, C, D, H, W)"
