"""`Flatten` and `Reshape`: change the sample shape of a batch, keeping its values.

Both are views when the input's memory allows (a copy otherwise), and backward
reshapes the gradient back: ``dL/dx = reshape(G, x.shape)``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad

ShapeSpec = tuple[tuple[int, ...], tuple[int, ...], np.dtype[Any]]
"""Input shape, output shape and dtype of the latest forward."""


class _Reshaping(Layer[ShapeSpec]):
    @abstractmethod
    def _sample_shape(self, sample: tuple[int, ...]) -> tuple[int, ...]:
        """The output's sample shape for an input sample of shape ``sample``."""

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        in_shape = tuple(x.shape)
        out_shape = (in_shape[0], *self._sample_shape(in_shape[1:]))
        self.cache = (in_shape, out_shape, x.dtype)
        y: Array = backend.namespace(x).reshape(x, out_shape)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        in_shape, out_shape, dtype = self.saved()
        g = as_grad(self, grad_out, out_shape, dtype)
        grad: Array = backend.namespace(g).reshape(g, in_shape)
        return grad


class Flatten(_Reshaping):
    """``(N, d_1, ..., d_k) -> (N, d_1 · ... · d_k)``: every sample axis into one, in C
    order (as PyTorch's ``Flatten()`` and NCHW -- so a `Dense` after it matches a
    PyTorch model's ``Linear`` weights, transposed).

    Cache: the input's and output's shapes and the dtype.

    Raises
    ------
    ValueError, TypeError
        An input that is not a non-empty real batch of rank >= 2, or a gradient not of
        the output's shape, naming the layer.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Flatten()(np.zeros((2, 3, 4, 4))).shape
    (2, 48)
    """

    @override
    def _sample_shape(self, sample: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(sample),)


class Reshape(_Reshaping):
    """``(N, *in_sample) -> (N, *sample_shape)``, same values in C order; one size may be
    -1, inferred as in NumPy.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    *sample_shape : int
        The output's shape without the batch axis: sizes >= 1, at most one -1.

    Raises
    ------
    ValueError
        A bad ``sample_shape`` (constructor); a sample whose size does not fit it;
        otherwise as `Flatten`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Reshape(1, 8, 8)(np.zeros((5, 64))).shape
    (5, 1, 8, 8)
    """

    def __init__(self, *sample_shape: int) -> None:
        if (
            not sample_shape
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer))
                   or not (d >= 1 or d == -1) for d in sample_shape)
            or list(sample_shape).count(-1) > 1
        ):
            raise ValueError(f"Reshape: sample_shape must be ints >= 1 with at most one -1, "
                             f"got {sample_shape!r}")
        self.sample_shape = tuple(int(d) for d in sample_shape)

    @override
    def _sample_shape(self, sample: tuple[int, ...]) -> tuple[int, ...]:
        size, known = math.prod(sample), -math.prod(self.sample_shape)
        shape = self.sample_shape
        if -1 in shape and known > 0 and size % known == 0:
            shape = tuple(size // known if d == -1 else d for d in shape)
        if math.prod(shape) != size:
            raise ValueError(f"{self!r} cannot reshape samples of shape {sample} ({size} "
                             f"values) to {self.sample_shape}")
        return shape

    @override
    def extra_repr(self) -> str:
        return ", ".join(map(str, self.sample_shape))
