"""Activations: parameter-free layers that cache their output.

Each takes a batch of any rank >= 2, ``(N, ...) -> (N, ...)`` (elementwise; `Softmax`
on one axis), keeps a floating input's dtype (bool/int become float64) and is finite
for every finite input: nothing here overflows, even at ±1e4 in float32.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from typing import Any

import numpy as np
from typing_extensions import override

from minigrad.base import Array, Layer, as_batch, as_grad, check_non_negative


@functools.cache
def _exp_overflow_bound(dtype: np.dtype[Any]) -> float:
    """A ``t`` just under ``log(largest finite value)``: ``e^t`` is finite in ``dtype``."""
    return float(np.log(np.finfo(dtype).max)) - 1.0


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^(-x)), stable for every finite ``x``, in ``x``'s dtype.

    When ``e^(-x)`` cannot overflow anywhere (``min(x)`` above ``-log(max float)``),
    the textbook formula is exact enough, keeps tiny values (σ(-700) ≈ 1e-304 in
    float64) and takes four passes over the data. Otherwise -- a very negative entry,
    or a NaN -- multiplying through by ``e^min(x, 0)`` gives a form whose exponents are
    never positive, so nothing can overflow::

        σ(x) = e^min(x, 0) / (1 + e^(-|x|))

    (for x ≥ 0 that is ``1 / (1 + e^(-x))``, for x < 0 it is ``e^x / (1 + e^x)``). It
    needs seven passes and no ``np.where``, whose data-dependent branches cost more
    than a second ``exp`` on mixed-sign inputs.
    """
    if x.size and x.min() > -_exp_overflow_bound(x.dtype):  # NaN: the general form
        out = np.negative(x)
        np.exp(out, out=out)
        out += 1.0  # float scalars: NumPy converts ints more slowly
        np.divide(1.0, out, out=out)
        return out
    denominator = np.abs(x)
    np.negative(denominator, out=denominator)
    np.exp(denominator, out=denominator)
    denominator += 1.0
    out = np.minimum(x, 0.0)
    np.exp(out, out=out)
    out /= denominator
    return out


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
        return sigmoid(x)

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in = np.subtract(1.0, y)
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
        return np.maximum(x, 0)

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = g * (y > 0)
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
        y: Array = np.where(x > 0, x, x * self.negative_slope)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = np.where(y > 0, g, g * self.negative_slope)
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
        return np.tanh(x)

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in = np.square(y)
        np.subtract(1, grad_in, out=grad_in)
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
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Softmax: axis must be a non-batch axis (an int, not 0), "
                             f"got {axis!r}")
        self.axis = int(axis)

    @override
    def function(self, x: Array) -> Array:
        if not (-x.ndim < self.axis < x.ndim):
            raise ValueError(f"{self!r}: axis {self.axis} is not a sample axis of an input "
                             f"of shape {x.shape}")
        y: Array = x - x.max(axis=self.axis, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = g - np.sum(g * y, axis=self.axis, keepdims=True)
        grad_in *= y
        return grad_in

    @override
    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"
