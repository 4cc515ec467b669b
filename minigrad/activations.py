"""Activations: parameter-free layers that cache their output.

Each takes a batch of any rank >= 2, ``(N, ...) -> (N, ...)`` (elementwise; `Softmax`
on one axis), keeps a floating input's dtype (bool/int become float64) and is finite
for every finite input: nothing here overflows, even at ±1e4 in float32.

They run on any array library (see `minigrad.backend`): each computes with the
namespace of its input, ``xp = backend.namespace(x)`` (the ``numpy`` module itself for
NumPy arrays), and calls only functions of the Array API standard; `sigmoid` is the
seam's, which keeps NumPy's overflow-checked fast path.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.backend import sigmoid as sigmoid  # re-exported: the recurrent layers use it
from minigrad.base import Array, Layer, as_batch, as_grad, check_non_negative, check_positive


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
        y: Array = backend.namespace(x).maximum(x, 0.0)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = backend.namespace(y).where(y > 0, g, 0.0)
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
        y: Array = backend.namespace(x).where(x > 0, x, x * self.negative_slope)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = backend.namespace(y).where(y > 0, g, g * self.negative_slope)
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
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"Softmax: axis must be a non-batch axis (an int, not 0), "
                             f"got {axis!r}")
        self.axis = int(axis)

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


# -- activations of transformers and sequence models ------------------------------------
# (GELU, SiLU, Softplus, ELU, LogSoftmax; the exact GELU needs erfc, computed below.)

_SQRT_HALF = 0.7071067811865476  # 1/√2
_INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)
_SQRT_2_OVER_PI = 0.7978845608028654  # √(2/π)
_INV_SQRT_PI = 0.5641895835477563  # 1/√π

# W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; SPECFUN's
# CALERF), each accurate to about 1e-16 relative on its interval:
# erf(y) = y·A(y²)/B(y²) on [0, 0.46875]; erfc(y) = e^(-y²)·C(y)/D(y) on (0.46875, 4];
# erfc(y) = e^(-y²)/y · (1/√π − z·P(z)/Q(z)), z = 1/y², beyond 4.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)


def _ratio(t: Array, num: tuple[float, ...], den: tuple[float, ...]) -> Array:
    """Cody's Horner form: ``(((c_last·t + c_0)·t + c_1)·t ...) / ((t + d_0)·t ...)``,
    where the numerator's last coefficient leads and the final ``c``/``d`` are added
    without a factor ``t``."""
    xnum = num[-1] * t
    xden = t  # never modified: each step below makes a new array
    for c, d in zip(num[:-2], den[:-1]):
        xnum = (xnum + c) * t
        xden = (xden + d) * t
    ratio: Array = (xnum + num[-2]) / (xden + den[-1])
    return ratio


def erfc(x: Array) -> Array:
    """The complementary error function ``erfc(x) = 1 − erf(x)``, elementwise, in ``x``'s
    dtype, to about 1e-15 relative in float64 over the whole real line (NumPy has no
    erf; SciPy is not a dependency).

    Cody's three rational approximations (see the coefficients above) are evaluated on
    clipped copies of ``|x|`` and selected with ``where``; ``e^(-y²)`` is split as
    ``e^(-s²)·e^(-(y−s)(y+s))`` with ``s = ⌊16y⌋/16`` so that rounding ``y²`` does not
    cost accuracy in the tail; ``erfc(−y) = 2 − erfc(y)``.
    """
    xp = backend.namespace(x)
    y = xp.abs(x)
    small = xp.minimum(y, 0.46875)
    erf_small = small * _ratio(small * small, _ERF_A, _ERF_B)
    mid = xp.clip(y, 0.46875, 4.0)
    large = xp.clip(y, 4.0, 30.0)  # erfc(27) is below the smallest float64
    z = 1.0 / (large * large)
    tail = (_INV_SQRT_PI - z * _ratio(z, _ERFC_P, _ERFC_Q)) / large
    scaled = xp.where(y <= 4.0, _ratio(mid, _ERFC_C, _ERFC_D), tail)  # e^(y²)·erfc(y)
    clipped = xp.minimum(y, 30.0)
    split = xp.trunc(clipped * 16.0) / 16.0
    scaled *= xp.exp(-split * split) * xp.exp(-(clipped - split) * (clipped + split))
    result: Array = xp.where(y <= 0.46875, 1.0 - erf_small, scaled)
    erfc_x: Array = xp.where(x < 0, 2.0 - result, result)
    return erfc_x


class InputActivation(Layer[Array]):
    """Base of the activations whose derivative needs the input ``x`` rather than the
    output (`GELU`, `SiLU`): ``function(x)`` and ``gradient(x, G)``.

    Elementwise on a batch of any rank >= 2: ``(N, *) -> (N, *)``, keeping a floating
    input's dtype.

    Cache: the input ``x``.

    Raises
    ------
    TypeError, ValueError
        A non-real or empty input, or a gradient of another shape (naming the layer).
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @abstractmethod
    def function(self, x: Array) -> Array:
        """``y = f(x)`` for a validated floating ``x`` (not to be modified)."""

    @abstractmethod
    def gradient(self, x: Array, g: Array) -> Array:
        """``dL/dx = f'(x) ⊙ g`` (``x``, ``g`` read-only)."""

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        self.cache = x
        return self.function(x)

    @override
    def backward(self, grad_out: Array) -> Array:
        x = self.saved()
        return self.gradient(x, as_grad(self, grad_out, x.shape, x.dtype))


class GELU(InputActivation):
    """Gaussian error linear unit, as ``torch.nn.GELU``: ``y = x · Φ(x)``, Φ the standard
    normal CDF, ``Φ(x) = erfc(−x/√2) / 2`` (`erfc`, float64-exact).

    Backward: ``dL/dx = G ⊙ (Φ(x) + x · φ(x))``, ``φ(x) = e^(−x²/2)/√(2π)``.

    With ``approximate="tanh"``: ``y = x/2 · (1 + tanh(u))``, ``u = √(2/π)(x + 0.044715x³)``,
    ``dy/dx = (1 + t)/2 + x/2 · (1 − t²) · √(2/π)(1 + 3·0.044715x²)``, ``t = tanh(u)``.

    Parameters
    ----------
    approximate : {"none", "tanh"}, default "none"

    Raises
    ------
    ValueError
        Another ``approximate``; otherwise as `InputActivation`.
    """

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _tanh_inner(self, x: Array) -> Array:
        inner: Array = backend.namespace(x).tanh(
            _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        return inner

    @override
    def function(self, x: Array) -> Array:
        if self.approximate == "tanh":
            y: Array = 0.5 * x * (1.0 + self._tanh_inner(x))
            return y
        y = 0.5 * x * erfc(-_SQRT_HALF * x)
        return y

    @override
    def gradient(self, x: Array, g: Array) -> Array:
        if self.approximate == "tanh":
            t = self._tanh_inner(x)
            slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (
                1.0 + 3 * 0.044715 * x * x)
        else:
            slope = 0.5 * erfc(-_SQRT_HALF * x) + x * _INV_SQRT_2PI * backend.namespace(
                x).exp(-0.5 * x * x)
        grad_in: Array = g * slope
        return grad_in

    @override
    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


class SiLU(InputActivation):
    """Sigmoid linear unit (swish), as ``torch.nn.SiLU``: ``y = x · σ(x)``;
    ``dL/dx = G ⊙ σ(x) · (1 + x · (1 − σ(x)))``. Raises: as `InputActivation`."""

    @override
    def function(self, x: Array) -> Array:
        y: Array = x * sigmoid(x)
        return y

    @override
    def gradient(self, x: Array, g: Array) -> Array:
        s = sigmoid(x)
        grad_in: Array = g * s * (1.0 + x * (1.0 - s))
        return grad_in


class Softplus(Activation):
    """``y = log(1 + e^(βx)) / β``, and ``y = x`` where ``βx > threshold``, as
    ``torch.nn.Softplus``. Backward from the output: ``dy/dx = σ(βx) = 1 − e^(−βy)``
    (``-expm1(-βy)``, accurate for tiny ``y``), 1 where ``βy > threshold``.

    Parameters
    ----------
    beta : float > 0, default 1
    threshold : float > 0, default 20

    Raises
    ------
    ValueError
        ``beta`` or ``threshold`` not a finite number > 0; otherwise as `Activation`.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = check_positive("Softplus", "beta", beta)
        self.threshold = check_positive("Softplus", "threshold", threshold)

    @override
    def function(self, x: Array) -> Array:
        xp = backend.namespace(x)
        scaled = self.beta * x
        soft = xp.log1p(xp.exp(xp.minimum(scaled, self.threshold))) / self.beta
        y: Array = xp.where(scaled > self.threshold, x, soft)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        xp = backend.namespace(y)
        scaled = self.beta * y
        slope = xp.where(scaled > self.threshold, 1.0, -xp.expm1(-scaled))
        grad_in: Array = g * slope
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


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
        y: Array = xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0.0)))
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = backend.namespace(y).where(y > 0, g, g * (y + self.alpha))
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
