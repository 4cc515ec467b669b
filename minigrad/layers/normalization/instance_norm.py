"""Per-sample normalization of channels: `InstanceNorm1D`, `InstanceNorm2D`,
`InstanceNorm3D` (each channel of each sample on its own) and `GroupNorm` (blocks of a
sample's channels).

Both standardize, for each sample, groups of its ``(C, *)`` values -- a channel with all
its positions (instance norm), or ``C / num_groups`` channels with theirs (group norm)
-- then apply the per-channel affine map ``y = γ ⊙ x̂ + β``. ``GroupNorm(C, C)`` is
instance norm with an affine map; ``GroupNorm(1, C)`` is layer norm over ``(C, *)``
with a per-channel one. Formulas, defaults, parameter and buffer names follow PyTorch;
see `minigrad.layers.normalization.standardization` for backward.
"""


from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, check_count, check_positive
from minigrad.core.nd import as_nd
from minigrad.init import SeedLike
from minigrad.layers.normalization.batch_norm import RunningNormalization
from minigrad.layers.normalization.standardization import Normalization

_MAX_NDIM = 64


class _PerSampleGroups(Normalization):
    """Statistics per sample and group of channels: the input seen as ``(N, G, rest)``,
    each row of ``rest`` (the group's channels with all their positions) one group."""

    @abstractmethod
    def _groups_per_sample(self) -> int:
        """G: the channels (instance norm) or the groups of channels (group norm)."""

    @override
    def _grouped(self, x: Array) -> Array:
        grouped: Array = backend.namespace(x).reshape(
            x, (x.shape[0], self._groups_per_sample(), -1))
        return grouped

    @override
    def _stat_axes(self, ndim: int) -> tuple[int, ...]:
        return (2,)


class _InstanceNorm(_PerSampleGroups, RunningNormalization):
    """Instance normalization of (N, C, *): statistics per sample and channel, over *."""

    affine_default = False
    cumulative = False
    too_few = "more than 1 spatial element per channel"

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        *,
        bias: bool = True,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias, rng,
                         dtype)

    @override
    def _groups_per_sample(self) -> int:
        return self.num_features

    @override
    def _group_size(self, shape: tuple[int, ...]) -> int:
        return math.prod(shape[2:])

    @override
    def _channel_statistics(self, grouped: Array, mean: Array, var: Array
                            ) -> tuple[Array, Array, float]:
        # The samples' statistics averaged over the batch; num_batches_tracked stays 0
        # (PyTorch's instance norms never count).
        xp = backend.namespace(grouped)
        per_channel = (grouped.shape[1],)
        assert self.momentum is not None  # refused at construction
        return (xp.reshape(xp.mean(mean, axis=0), per_channel),
                xp.reshape(xp.mean(self._unbiased(grouped, var), axis=0), per_channel),
                self.momentum)


class InstanceNorm1D(_InstanceNorm):
    """Instance normalization of (N, C, L), as ``torch.nn.InstanceNorm1d``: each
    channel of each sample standardized over its L positions.

    ``y = γ ⊙ (x − μ)/√(σ² + ε) + β`` with μ, σ² (biased) over the positions of one
    sample's channel, γ, β per channel when ``affine``. With ``track_running_stats``,
    training also updates running statistics from the batch's average per channel::

        running_mean ← (1 − m) · running_mean + m · mean_N(μ)
        running_var  ← (1 − m) · running_var  + m · mean_N(σ² · L / (L − 1))

    and evaluation mode normalizes with them instead; without it (the default) both
    modes use each sample's own statistics. See
    `minigrad.layers.normalization.standardization` for backward.

    Shapes: ``(N, C, L) -> (N, C, L)`` (a batch: PyTorch's unbatched ``(C, L)`` is not
    taken, and the channel count must be ``num_features`` even without ``affine``).

    Cache: ``x̂``, ``1/√(σ² + ε)`` and whether the input's statistics were used.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default 1e-5
        Added to the variance; > 0.
    momentum : float in [0, 1], default 0.1
        ``m`` above. Not None: PyTorch's instance norms have no cumulative average
        (their ``momentum=None`` leaves the running statistics where they are).
    affine : bool, default False
        Learn ``weight`` (ones) and ``bias`` (zeros), ``(C,)``.
    track_running_stats : bool, default False
        Keep buffers ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked`` (which, as in PyTorch, stays 0) and use them in
        evaluation mode.
    bias : bool, default True
        With ``affine``, False learns only ``weight``.
    rng : seed, optional
        As `BatchNorm1D` (nothing is drawn).
    dtype : float dtype, default float64

    Raises
    ------
    ValueError, TypeError, RuntimeError
        As `BatchNorm1D`; with the input's statistics, a single position per channel.
    """

    ranks = (3,)
    layout = "(batch, C, L)"


class InstanceNorm2D(_InstanceNorm):
    """Instance normalization of (N, C, H, W), as ``torch.nn.InstanceNorm2d``: each
    channel of each sample standardized over its H·W positions. Everything else as
    `InstanceNorm1D`."""

    ranks = (4,)
    layout = "(batch, C, H, W)"


class InstanceNorm3D(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W), as ``torch.nn.InstanceNorm3d``: each
    channel of each sample standardized over its D·H·W positions. Everything else as
    `InstanceNorm1D`."""

    ranks = (5,)
    layout = "(batch, C, D, H, W)"


class GroupNorm(_PerSampleGroups):
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
        Added to the variance; > 0.
    affine : bool, default True
        Learn ``weight`` (ones) and ``bias`` (zeros); False: both are None.
    bias : bool, default True
        With ``affine``, False learns only ``weight``.
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
        bias: bool = True,
        rng: SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        self.num_groups = check_count("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = check_count("GroupNorm", "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_groups ({self.num_groups}) must divide "
                             f"num_channels ({self.num_channels})")
        self.eps = check_positive("GroupNorm", "eps", eps)
        self._init_affine((self.num_channels,), affine, bias, rng, dtype)
        self.affine = self.weight is not None

    @override
    def _validate(self, x: object) -> Array:
        return as_nd(self, x, expected=f"(batch, {self.num_channels}, ...)",
                     ndims=range(2, _MAX_NDIM + 1), sizes={1: self.num_channels},
                     dtype=self._dtype(), like=self._like())

    @override
    def _groups_per_sample(self) -> int:
        return self.num_groups

    @override
    def _affine_shape(self, ndim: int) -> tuple[int, ...]:
        return (1, self.num_channels) + (1,) * (ndim - 2)

    @override
    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}"
                + ("" if self.eps == 1e-5 else f", eps={self.eps}")
                + self._affine_repr("affine"))
