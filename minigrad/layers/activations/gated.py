"""`GLU`, the gated linear unit: half of the input gates the other half.

Part of the activations family (`minigrad.layers.activations` re-exports it); unlike the
elementwise ones it halves one axis of the sample.
"""

from __future__ import annotations

from types import EllipsisType

from typing_extensions import override

from minigrad import backend
from minigrad.backend import sigmoid
from minigrad.core import Array, Layer, as_batch, as_grad
from minigrad.layers.activations.from_output import sample_axis

GLUCache = tuple[Array, Array, int]
"""The first half ``a``, the gate ``σ(b)`` and the (non-negative) axis they were split on."""


class GLU(Layer[GLUCache]):
    """Gated linear unit, as ``torch.nn.GLU`` (Dauphin et al., 2017): ``x`` split in
    halves ``a, b`` along ``dim``, ``y = a ⊙ σ(b)``.

    Shapes: ``(N, ..., 2k, ...) -> (N, ..., k, ...)`` (the axis ``dim`` halved).

    Backward, for ``G = dL/dy``, joined along ``dim`` in the input's order::

        dL/da = G ⊙ σ(b)        dL/db = G ⊙ a ⊙ σ(b) ⊙ (1 − σ(b))

    Cache: ``a`` and ``σ(b)`` (together the input's size).

    Parameters
    ----------
    dim : int, default -1
        The axis halved; not the batch axis (0).

    Raises
    ------
    ValueError
        From the constructor: ``dim`` not an int or 0; from ``forward``: an input
        without axis ``dim``, or of odd size along it (naming the layer); otherwise as
        every layer: an input that is not a non-empty real batch of rank >= 2, a
        gradient not of the output's shape.
    TypeError
        A non-real input or gradient.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(self, dim: int = -1) -> None:
        self.dim = sample_axis("GLU", "dim", dim)

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        if not -x.ndim < self.dim < x.ndim:
            raise ValueError(f"{self!r} got an input of shape {tuple(x.shape)} without "
                             f"sample axis {self.dim}")
        axis = self.dim % x.ndim
        size = x.shape[axis]
        if size % 2:
            raise ValueError(f"{self!r} halves axis {self.dim}, which must be of even size; "
                             f"got size {size} in an input of shape {tuple(x.shape)}")
        before = (slice(None),) * axis
        first: tuple[slice | EllipsisType, ...] = (*before, slice(0, size // 2), ...)
        second: tuple[slice | EllipsisType, ...] = (*before, slice(size // 2, size), ...)
        a = x[first]
        gate = sigmoid(x[second])
        self.cache = (a, gate, axis)
        y: Array = a * gate
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        a, gate, axis = self.saved()
        g = as_grad(self, grad_out, a.shape, a.dtype)
        grad_a = g * gate                      # dL/da = G ⊙ σ(b)
        grad_b = grad_a * a * (1.0 - gate)     # dL/db = G ⊙ a ⊙ σ(b)(1 − σ(b))
        grad_in: Array = backend.namespace(g).concat([grad_a, grad_b], axis=axis)
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"dim={self.dim}"
