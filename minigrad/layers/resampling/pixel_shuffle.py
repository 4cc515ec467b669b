"""`PixelShuffle` and `PixelUnshuffle`: channels to space and back, as PyTorch's.

``PixelShuffle(r)`` maps ``(*, C·r², H, W) -> (*, C, H·r, W·r)`` with
``y[..., c, h·r + i, w·r + j] = x[..., c·r² + i·r + j, h, w]``: a reshape to
``(*, C, r, r, H, W)``, the axes permuted to ``(*, C, H, r, W, r)``, a reshape.
`PixelUnshuffle` is its inverse, and each one's backward is the other's forward (a
permutation's adjoint is its inverse).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad, check_count

ShuffleCache = tuple[tuple[int, ...], tuple[int, ...], np.dtype[Any]]
"""The input's and output's shapes and the dtype."""


def shuffle(x: Array, r: int) -> Array:
    """``(*, C·r², H, W) -> (*, C, H·r, W·r)``."""
    xp = backend.namespace(x)
    *lead, channels, h, w = x.shape
    split = xp.reshape(x, (-1, channels // (r * r), r, r, h, w))
    moved = xp.permute_dims(split, (0, 1, 4, 2, 5, 3))  # (M, C, H, r, W, r)
    out: Array = xp.reshape(moved, (*lead, channels // (r * r), h * r, w * r))
    return out


def unshuffle(x: Array, r: int) -> Array:
    """``(*, C, H·r, W·r) -> (*, C·r², H, W)``, the inverse of `shuffle`."""
    xp = backend.namespace(x)
    *lead, channels, h, w = x.shape
    split = xp.reshape(x, (-1, channels, h // r, r, w // r, r))
    moved = xp.permute_dims(split, (0, 1, 3, 5, 2, 4))  # (M, C, r, r, H, W)
    out: Array = xp.reshape(moved, (*lead, channels * r * r, h // r, w // r))
    return out


class _Shuffle(Layer[ShuffleCache]):
    """The input checks, cache and backward the two layers share."""

    factor: int

    @abstractmethod
    def _check(self, shape: tuple[int, ...]) -> None:
        """Raise a clear error for an input ``shape`` the rearrangement cannot take."""

    @abstractmethod
    def _apply(self, x: Array) -> Array:
        """The rearrangement."""

    @abstractmethod
    def _invert(self, g: Array) -> Array:
        """Its inverse (and adjoint)."""

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        if x.ndim < 4:
            raise ValueError(f"{self!r} expected input of shape (batch, ..., channels, "
                             f"height, width), got {tuple(x.shape)}")
        self._check(tuple(x.shape))
        y = self._apply(x)
        self.cache = (tuple(x.shape), tuple(y.shape), x.dtype)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        _, out_shape, dtype = self.saved()
        return self._invert(as_grad(self, grad_out, out_shape, dtype))  # the inverse permutation


class PixelShuffle(_Shuffle):
    """Channels to space, as PyTorch's ``nn.PixelShuffle``: ``(*, C·r², H, W) ->
    (*, C, H·r, W·r)``, ``y[..., c, h·r + i, w·r + j] = x[..., c·r² + i·r + j, h, w]`` (the
    sub-pixel convolution's rearrangement). Backward applies the inverse rearrangement
    (`PixelUnshuffle`) to the gradient.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    upscale_factor : int >= 1
        ``r``.

    Raises
    ------
    ValueError
        A factor not an int >= 1 (constructor); an input of rank below 4 (a batch of
        ``(C, H, W)``) or with channels not divisible by ``r²``; a gradient not of the
        output's shape. Each names the layer.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.PixelShuffle(2)(np.arange(4.0).reshape(1, 4, 1, 1))
    array([[[[0., 1.],
             [2., 3.]]]])
    """

    def __init__(self, upscale_factor: int) -> None:
        self.upscale_factor = self.factor = check_count("PixelShuffle", "upscale_factor",
                                                        upscale_factor, 1)

    def _check(self, shape: tuple[int, ...]) -> None:
        if shape[-3] % (self.factor ** 2):
            raise ValueError(f"{self!r}: the channels ({shape[-3]}) must be divisible by "
                             f"upscale_factor² ({self.factor ** 2}), got input {shape}")

    def _apply(self, x: Array) -> Array:
        return shuffle(x, self.factor)

    def _invert(self, g: Array) -> Array:
        return unshuffle(g, self.factor)

    @override
    def extra_repr(self) -> str:
        return f"upscale_factor={self.factor}"


class PixelUnshuffle(_Shuffle):
    """Space to channels, as PyTorch's ``nn.PixelUnshuffle``: ``(*, C, H·r, W·r) ->
    (*, C·r², H, W)``, the inverse of `PixelShuffle`. Backward applies `PixelShuffle`'s
    rearrangement to the gradient.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    downscale_factor : int >= 1
        ``r``.

    Raises
    ------
    ValueError
        A factor not an int >= 1 (constructor); an input of rank below 4 or with a
        height or width not divisible by ``r``; a gradient not of the output's shape.
        Each names the layer.
    """

    def __init__(self, downscale_factor: int) -> None:
        self.downscale_factor = self.factor = check_count("PixelUnshuffle", "downscale_factor",
                                                          downscale_factor, 1)

    def _check(self, shape: tuple[int, ...]) -> None:
        if shape[-2] % self.factor or shape[-1] % self.factor:
            raise ValueError(f"{self!r}: the height and width ({shape[-2]}, {shape[-1]}) must "
                             f"be divisible by downscale_factor ({self.factor}), got input "
                             f"{shape}")

    def _apply(self, x: Array) -> Array:
        return unshuffle(x, self.factor)

    def _invert(self, g: Array) -> Array:
        return shuffle(g, self.factor)

    @override
    def extra_repr(self) -> str:
        return f"downscale_factor={self.factor}"
