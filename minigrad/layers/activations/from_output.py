"""Activations: parameter-free layers that cache their output.

Each takes a batch of any rank >= 2, ``(N, ...) -> (N, ...)`` (elementwise; `Softmax`
on one axis), keeps a floating input's dtype (bool/int become float64) and is finite
for every finite input: nothing here overflows, even at ±1e4 in float32.

They run on any array library (see `minigrad.backend`): each computes with the
namespace of its input, ``xp = backend.namespace(x)`` (the ``numpy`` module itself for
NumPy arrays), and calls only functions of the Array API standard; `sigmoid` and
`select` (``where`` without NumPy's mispredicted branches) are the seam's, which keep
NumPy's fast paths.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.backend import select, sigmoid
from minigrad.core import Array, Layer, as_batch, as_grad, check_non_negative

__all__ = [
    "ELU",
    "Activation",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Tanh",
    "sample_axis",
]


def sample_axis(owner: str, name: str, value: object) -> int:
    """``value`` as an axis of the sample: an int other than 0 (the batch axis; negative
    ones count from the end), else `ValueError` naming ``owner`` and ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value == 0:
        raise ValueError(f"{owner}: {name} must be a non-batch axis (an int, not 0), "
                         f"got {value!r}")
    return int(value)


class Activation(Layer[Array]):
    """Base of the activations: a layer whose backward needs only its output ``y = f(x)``.

    Subclasses -- yours too -- give ``function`` (f on a validated batch) and
    ``gradient`` (dL/dx from ``y`` and ``G = dL/dy``, without modifying either);
    forward and backward do the validation and caching.

    Cache: the output ``y``.

    Raises
    ------
    TypeError, ValueError
        From ``forward``: an input that is not a non-empty real batch of rank >= 2; from
        ``backward``: a gradient of another shape than the last output. Both name the
        layer.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @abstractmethod
    def function(self, x: Array) -> Array:
        """``y = f(x)`` for a validated floating batch ``x`` (not to be modified)."""

    @abstractmethod
    def gradient(self, y: Array, g: Array) -> Array:
        """``dL/dx`` given the output ``y`` and ``g = dL/dy`` (both read-only)."""

    @override
    def forward(self, x: Array) -> Array:
        y = self.function(as_batch(self, x))
        self.cache = y
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        y = self.saved()
        return self.gradient(y, as_grad(self, grad_out, y.shape, y.dtype))


class Sigmoid(Activation):
    """``y = σ(x)`` (see `sigmoid`); backward ``dL/dx = G · y · (1 − y)``, from the cached
    output. Shapes: ``(N, ...) -> (N, ...)``.

    Cache: the output ``y``.

    Raises: as every `Activation`.
    """

    @override
    def function(self, x: Array) -> Array:
        y: Array = sigmoid(x)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in = 1.0 - y
        grad_in *= y
        grad_in *= g
        return grad_in


class ReLU(Activation):
    """Rectified linear unit: ``y = max(x, 0)``; ``dL/dx = G ⊙ [y > 0]``.

    At ``x = 0`` the gradient is taken as 0, as in PyTorch. Shapes: ``(N, ...) -> (N, ...)``.

    Cache: the output ``y`` (its sign is the input's).

    Raises: as every `Activation`.
    """

    @override
    def function(self, x: Array) -> Array:
        y: Array = backend.positive_part(x)  # max(x, 0)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = backend.gate_positive(g, y)  # G · [y > 0]
        return grad_in


class LeakyReLU(Activation):
    """``y = x`` for ``x > 0``, ``y = a · x`` otherwise; ``dL/dx = G ⊙ (1 or a)``.

    At ``x = 0`` the slope ``a`` is used, as in PyTorch. Shapes: ``(N, ...) -> (N, ...)``.

    Cache: the output ``y``. With ``a ≥ 0``, ``y > 0`` exactly where ``x > 0``.

    Parameters
    ----------
    negative_slope : float ≥ 0, default 0.01
        ``a``, the slope for ``x ≤ 0`` (Keras' rule; it keeps the cached output
        enough for backward).

    Raises
    ------
    ValueError
        From the constructor: ``negative_slope`` not a finite number ≥ 0; otherwise
        as every `Activation`.
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = check_non_negative("LeakyReLU", "negative_slope", negative_slope)

    @override
    def function(self, x: Array) -> Array:
        y: Array = select(x > 0, x, x * self.negative_slope)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = select(y > 0, g, g * self.negative_slope)
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Activation):
    """``y = tanh(x)``; ``dL/dx = G ⊙ (1 − y²)``. Shapes: ``(N, ...) -> (N, ...)``.

    Cache: the output ``y``.

    Raises: as every `Activation`.
    """

    @override
    def function(self, x: Array) -> Array:
        y: Array = backend.namespace(x).tanh(x)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in = 1.0 - y * y
        grad_in *= g
        return grad_in


class Softmax(Activation):
    """Softmax over ``axis`` (default the last): each slice along it becomes a
    probability vector.

    ``y_i = exp(x_i − m) / Σ_j exp(x_j − m)`` with ``m = max_j x_j``: subtracting the
    max leaves ``y`` unchanged and keeps every ``exp`` in (0, 1], so nothing
    overflows. Shapes: ``(N, ...) -> (N, ...)``; ``axis=1`` on ``(N, C, H, W)`` is a
    softmax over channels at each pixel.

    Backward, with ``G = dL/dy`` and the Jacobian ``diag(y) − y yᵀ`` of each row::

        dL/dx = y ⊙ (G − Σ_j G_j y_j)

    computed slice by slice in O(N·C), never forming the (N, C, C) Jacobian.

    Cache: the output ``y``.

    For classification, feed raw logits to `CrossEntropyLoss` instead: it fuses the
    softmax with the log and is more accurate.

    Parameters
    ----------
    axis : int, default -1
        The axis normalized; not the batch axis (0). Checked against the input's rank.

    Raises
    ------
    ValueError
        From the constructor: ``axis`` not an int or 0; from ``forward``: an ``axis``
        outside the input's rank. Otherwise as every `Activation`.
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = sample_axis("Softmax", "axis", axis)

    @override
    def function(self, x: Array) -> Array:
        if not (-x.ndim < self.axis < x.ndim):
            raise ValueError(f"{self!r}: axis {self.axis} is not a sample axis of an input "
                             f"of shape {x.shape}")
        xp = backend.namespace(x)
        y: Array = xp.exp(x - xp.max(x, axis=self.axis, keepdims=True))
        y /= xp.sum(y, axis=self.axis, keepdims=True)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        xp = backend.namespace(y)
        grad_in: Array = g - xp.sum(g * y, axis=self.axis, keepdims=True)
        grad_in *= y
        return grad_in


# -- more activations of transformers and sequence models -------------------------------
# (GELU, SiLU and Softplus, which need the input, are in
# `minigrad.layers.activations.from_input`.)


class ELU(Activation):
    """Exponential linear unit, as ``torch.nn.ELU``: ``y = x`` for ``x > 0``, else
    ``α(e^x − 1)``; backward from the output: ``dy/dx = 1`` where ``y > 0``, else ``y + α``.

    Parameters
    ----------
    alpha : float ≥ 0, default 1

    Raises
    ------
    ValueError
        ``alpha`` not a finite number ≥ 0 (the output must tell the sign of ``x``);
        otherwise as `Activation`.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_non_negative("ELU", "alpha", alpha)

    @override
    def function(self, x: Array) -> Array:
        xp = backend.namespace(x)
        y: Array = select(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0.0)))
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = select(y > 0, g, g * (y + self.alpha))
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class LogSoftmax(Activation):
    """``y = x − m − log Σ_j e^(x_j − m)`` over ``axis`` (``m`` the max: stable), as
    ``torch.nn.LogSoftmax``; backward ``dL/dx = G − softmax(x) · Σ_j G_j`` with
    ``softmax(x) = e^y``.

    Parameters
    ----------
    axis : int, default -1

    Raises
    ------
    ValueError
        An ``axis`` the input does not have; otherwise as `Activation`.
    """

    def __init__(self, axis: int = -1) -> None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"LogSoftmax: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    @override
    def function(self, x: Array) -> Array:
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self!r} got an input of shape {x.shape} without axis "
                             f"{self.axis}")
        xp = backend.namespace(x)
        shifted: Array = x - xp.max(x, axis=self.axis, keepdims=True)
        shifted -= xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))
        return shifted

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        xp = backend.namespace(y)
        grad_in: Array = g - xp.exp(y) * xp.sum(g, axis=self.axis, keepdims=True)
        return grad_in

    @override
    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"


class Softmin(Softmax):
    """``y = softmax(−x)`` over ``dim``, as ``torch.nn.Softmin``: the smallest entries get
    the most mass. Backward is `Softmax`'s on ``−x``, negated:
    ``dL/dx = −y ⊙ (G − Σ_j G_j y_j)``.

    Cache: the output ``y``.

    Parameters
    ----------
    dim : int, default -1
        The axis normalized; not the batch axis (0). PyTorch's default ``dim=None``
        guesses an axis from the rank (with a deprecation warning); here it is the last.

    Raises
    ------
    ValueError
        From the constructor: ``dim`` not an int or 0; from ``forward``: a ``dim``
        outside the input's rank. Otherwise as every `Activation`.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__(sample_axis("Softmin", "dim", dim))

    @property
    def dim(self) -> int:
        """The axis normalized (PyTorch's name; `Softmax` calls it ``axis``)."""
        return self.axis

    @override
    def function(self, x: Array) -> Array:
        return super().function(-x)

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = -super().gradient(y, g)
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"dim={self.axis}"


class LogSigmoid(Activation):
    """``y = log σ(x) = min(x, 0) − log(1 + e^(−|x|))``, as ``torch.nn.LogSigmoid``:
    finite for every finite ``x`` (never ``log`` of an underflowed σ).

    Backward from the output: ``dy/dx = σ(−x) = 1 − e^y``, computed as ``−expm1(y)``,
    accurate where it is tiny (large ``x``, where ``y`` is a tiny negative number).

    Cache: the output ``y``.

    Raises: as every `Activation`.
    """

    @override
    def function(self, x: Array) -> Array:
        xp = backend.namespace(x)
        y: Array = xp.minimum(x, 0.0) - xp.log1p(xp.exp(-xp.abs(x)))
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = -backend.namespace(y).expm1(y) * g
        return grad_in
