"""`Dropout`: the layer that behaves differently in training and evaluation mode."""

from __future__ import annotations

from typing import Any

import numpy as np
from typing_extensions import override

from minigrad import backend, init
from minigrad.core import Array, Layer, as_batch, as_grad, check_number

DropoutCache = tuple[Array | None, tuple[int, ...], Any]
"""The multiplier of the latest forward (None if it was the identity), output shape, dtype."""


class Dropout(Layer[DropoutCache]):
    """Inverted dropout: in training, zero each unit with probability ``p``.

    With a mask ``k`` of independent Bernoulli(1 − p) draws, in training mode::

        y = x ⊙ k / (1 − p)        dL/dx = G ⊙ k / (1 − p)

    The kept units are scaled up so that ``E[y] = x``: evaluation mode needs no
    rescaling and is the identity, ``y = x``, ``dL/dx = G``. The mode is the layer's
    ``training`` flag (`train` / `eval`, propagated by containers); ``backward`` uses
    the mask of the forward it belongs to whatever the mode is by then.

    Shapes: ``(N, ...) -> (N, ...)``, any rank >= 2; keeps a floating input's dtype.

    On every array library: the mask is drawn from the layer's NumPy ``Generator`` and
    then moved to the input's library and device (`minigrad.backend.asarray`), so one
    ``rng`` gives the same sequence of masks whether the model runs on NumPy, torch
    (CPU or CUDA) or any other backend -- at the cost of one host-to-device copy of
    the mask per training forward on a GPU.

    Cache: the multiplier ``k / (1 − p)`` in the input's dtype (None in evaluation mode
    or for ``p = 0``), and the output's shape and dtype.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of dropping a unit.
    rng : int, numpy Generator or RandomState, optional
        Source of the masks; None draws fresh OS entropy. A fixed ``rng`` gives the same
        sequence of masks.

    Raises
    ------
    ValueError
        If ``p`` is not a number in [0, 1); an input that is not a non-empty batch of rank >= 2,
        or a gradient of another shape than the last output (naming the layer).
    TypeError
        A non-real input or gradient.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(self, p: float = 0.5, rng: init.SeedLike = None) -> None:
        self.p = check_number("Dropout", "p", p, "a number in [0, 1)", lambda v: 0 <= v < 1)
        self.rng = init.make_rng(rng)

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        if not self.training or self.p == 0:
            self.cache = (None, x.shape, x.dtype)
            return x
        shape = tuple(x.shape)
        keep = self.rng.random(shape) >= self.p
        multiplier = backend.asarray_like(  # drawn in NumPy, moved where x lives
            np.multiply(keep, 1 / (1 - self.p), dtype=backend.numpy_dtype(x.dtype)), x)
        self.cache = (multiplier, x.shape, x.dtype)
        y: Array = x * multiplier
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        multiplier, shape, dtype = self.saved()
        g = as_grad(self, grad_out, shape, dtype)
        if multiplier is None:
            return g
        grad_in: Array = g * multiplier
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"p={self.p}"
