"""Elementwise activations: parameter-free layers that cache their output."""

from __future__ import annotations

import numpy as np
from typing_extensions import override

from minigrad.base import Array, Layer, as_batch, as_grad


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^(-x)), stable for every finite ``x``, in ``x``'s dtype.

    With ``z = e^(-|x|)`` (in (0, 1], so it cannot overflow)::

        σ(x) = 1 / (1 + z)   for x ≥ 0
        σ(x) = z / (1 + z)   for x < 0

    The second form keeps tiny values such as σ(-700) ≈ 1e-304 that ``1 - 1/(1 + z)``
    would round to 0. (``np.where`` on the naive formula would still evaluate
    ``exp(-x)`` everywhere and overflow.)
    """
    z = np.abs(x)
    np.negative(z, out=z)
    np.exp(z, out=z)
    out = np.where(x >= 0, 1, z).astype(x.dtype, copy=False)
    z += 1
    out /= z
    return out


class Sigmoid(Layer[Array]):
    """``y = σ(x)``; backward ``dL/dx = G · y · (1 − y)``, from the cached output.

    Cache: the output ``y``.
    """

    @override
    def forward(self, x: Array) -> Array:
        y = sigmoid(as_batch(self, x))
        self.cache = y
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        y = self.saved()
        g = as_grad(self, grad_out, y.shape, y.dtype)
        grad_in = np.subtract(1, y)
        grad_in *= y
        grad_in *= g
        return grad_in
