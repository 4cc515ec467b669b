"""The activations whose derivative needs the input: `InputActivation`, `GELU` (exact,
through `erfc`, or tanh-approximated), `SiLU`, `Softplus`, `Mish`, `SELU`, `CELU`,
`Softsign` and `Tanhshrink`.

Part of the activations family (`minigrad.layers.activations` re-exports all of it); the same
conventions hold: a batch of any rank >= 2, a floating input's dtype kept, any array
library, finite for every finite input.
"""

from __future__ import annotations

import math
from abc import abstractmethod

from typing_extensions import override

from minigrad import backend
from minigrad.backend import select, sigmoid
from minigrad.core import Array, Layer, as_batch, as_grad, check_number

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


# Abramowitz & Stegun 7.1.26 (Hastings): erfc(y) ≈ t·A(t)·e^(-y²), t = 1/(1 + p·y), y >= 0,
# absolute error below 1.5e-7 -- float32's own resolution, and the formula PyTorch's
# vectorized CPU erf uses for float32.
_AS_P = 0.3275911
_AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


def _normal_cdf(x: Array) -> tuple[Array, Array]:
    """``Φ(x)`` and ``e^(−x²/2)`` (`GELU`'s two pieces), in ``x``'s dtype.

    float64 (and wider): Φ from Cody's `erfc`, exact to float64. Narrower floats: from
    Abramowitz & Stegun 7.1.26 -- 1.5e-7 absolute, a float32 rounding or two of Φ near
    1, at a fraction of the work -- written as ``Φ(−|x|) = erfc(|x|/√2)/2``, so
    the far negative tail does not cancel to 0 in ``1 − erf`` (it keeps a few percent
    relative accuracy down to x = −12, 5e-5 above x = −3).
    """
    xp = backend.namespace(x)
    magnitude = xp.abs(x)
    clipped = xp.minimum(magnitude, 40.0)  # e^(−800) is 0 already; x² could overflow
    gauss = xp.exp(-0.5 * (clipped * clipped))  # e^(−x²/2) = e^(−y²), y = |x|/√2
    if backend.numpy_dtype(x.dtype).itemsize >= 8:
        return 0.5 * erfc(-_SQRT_HALF * x), gauss
    t = 1.0 / (1.0 + (_AS_P * _SQRT_HALF) * magnitude)
    poly = _AS_A[0] * t
    for a in _AS_A[1:]:
        poly += a
        poly *= t
    lower = 0.5 * poly * gauss  # Φ(−|x|)
    # Φ(x) = Φ(−|x|) + [x > 0](1 − 2Φ(−|x|)), branch-free: NumPy's `where` on random
    # signs is ten times slower than this whole line (mispredicted branches)
    cdf: Array = xp.astype(x > 0, x.dtype) * (1.0 - 2.0 * lower)
    cdf += lower
    return cdf, gauss


class InputActivation(Layer[Array]):
    """Base of the activations whose derivative needs the input ``x`` rather than the
    output (`GELU`, `SiLU`, `Softplus`, `Mish`, ...): ``function(x)`` returns
    ``y = f(x)`` and ``f'(x)``.

    Elementwise on a batch of any rank >= 2: ``(N, *) -> (N, *)``, keeping a floating
    input's dtype. Backward is the chain rule, ``dL/dx = f'(x) ⊙ G``.

    Cache: ``f'(x)``, computed in forward with the pieces ``f(x)`` shares with it (an
    array the size of ``x``, as caching ``x`` would be).

    Raises
    ------
    TypeError, ValueError
        A non-real or empty input, or a gradient of another shape (naming the layer).
    RuntimeError
        ``backward`` before any ``forward``.
    """

    @abstractmethod
    def function(self, x: Array) -> tuple[Array, Array]:
        """``(f(x), f'(x))`` for a validated floating ``x`` (not to be modified)."""

    @override
    def forward(self, x: Array) -> Array:
        y, self.cache = self.function(as_batch(self, x))
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        slope = self.saved()
        grad_in: Array = as_grad(self, grad_out, slope.shape, slope.dtype) * slope
        return grad_in


class GELU(InputActivation):
    """Gaussian error linear unit, as ``torch.nn.GELU``: ``y = x · Φ(x)``, Φ the standard
    normal CDF, ``Φ(x) = erfc(−x/√2) / 2`` (`erfc`, float64-exact; float32 through
    Abramowitz & Stegun's 7.1.26, as PyTorch's CPU kernel, to 1.5e-7).

    Derivative: ``dy/dx = Φ(x) + x · φ(x)``, ``φ(x) = e^(−x²/2)/√(2π)``.

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

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        if self.approximate == "tanh":
            xp = backend.namespace(x)
            # beyond |x| = 20, tanh(u) is ±1 exactly and 1 − t² is 0: the clipped x
            # changes nothing there and keeps x³ from overflowing
            xc = xp.clip(x, -20.0, 20.0)
            t = xp.tanh(_SQRT_2_OVER_PI * (xc + 0.044715 * xc * xc * xc))
            y: Array = 0.5 * x * (1.0 + t)
            slope: Array = 0.5 * (1.0 + t) + 0.5 * xc * (1.0 - t * t) * _SQRT_2_OVER_PI * (
                1.0 + 3 * 0.044715 * xc * xc)
            return y, slope
        cdf, gauss = _normal_cdf(x)
        y = x * cdf
        slope = x * gauss
        slope *= _INV_SQRT_2PI
        slope += cdf
        return y, slope

    @override
    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


class SiLU(InputActivation):
    """Sigmoid linear unit (swish), as ``torch.nn.SiLU``: ``y = x · σ(x)``;
    ``dy/dx = σ(x) · (1 + x · (1 − σ(x)))``. Raises: as `InputActivation`."""

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        s = sigmoid(x)
        y: Array = x * s
        slope: Array = s * (1.0 + x * (1.0 - s))
        return y, slope


def _real(owner: str, name: str, value: object, rule: str = "a finite number") -> float:
    """``value`` as a float if it is a finite real number, else `ValueError` naming it."""
    return check_number(owner, name, value, rule, math.isfinite)


class Softplus(InputActivation):
    """``y = log(1 + e^(βx)) / β``, and ``y = x`` where ``βx > threshold``, as
    ``torch.nn.Softplus``; ``dy/dx = σ(βx)``, and 1 where ``βx > threshold``.

    The soft part is computed as ``(max(βx, 0) + log(1 + e^(−|βx|))) / β``: finite for
    every finite input whatever the threshold (PyTorch's ``log1p(exp(βx))`` overflows to
    inf beyond βx ≈ 710, which only a threshold below that hides). The derivative is
    taken from ``x``, not the output: their regions overlap in ``y`` (``βy`` lies above
    ``threshold`` just below it too), which a small threshold makes visible.

    Parameters
    ----------
    beta : float ≠ 0, default 1
        Negative values are PyTorch's too: ``−softplus(−|β|x)/|β|``, a soft minimum.
    threshold : float, default 20
        Any finite number (PyTorch takes negative ones and 0 as well).

    Raises
    ------
    ValueError
        ``beta`` not a finite nonzero number, ``threshold`` not a finite number;
        otherwise as `InputActivation`.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = check_number("Softplus", "beta", beta, "a finite nonzero number",
                                 lambda v: math.isfinite(v) and v != 0)
        self.threshold = _real("Softplus", "threshold", threshold)

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        xp = backend.namespace(x)
        scaled = self.beta * x
        linear = scaled > self.threshold
        soft = (xp.maximum(scaled, 0.0) + xp.log1p(xp.exp(-xp.abs(scaled)))) / self.beta
        y: Array = select(linear, x, soft)
        slope: Array = select(linear, 1.0, sigmoid(scaled))
        return y, slope

    @override
    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(InputActivation):
    """``y = x · tanh(softplus(x))``, as ``torch.nn.Mish``;
    ``dy/dx = t + x · σ(x) · (1 − t²)``, ``t = tanh(softplus(x))``.

    With ``u = e^x``, ``t = N / (N + 2)`` for ``N = u(u + 2)`` and
    ``1 − t² = 4(N + 1)/(N + 2)²``, ``σ(x) = u/(1 + u)``: no cancellation anywhere, and
    ``x`` is capped at 30 inside ``u`` (where ``t`` is 1 and the second term below
    1e-24 in every float), so nothing overflows.

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        capped = backend.namespace(x).minimum(x, 30.0)
        u = backend.namespace(x).exp(capped)
        n = u * (u + 2.0)
        d = n + 2.0
        t = n / d
        y: Array = x * t
        slope: Array = t + capped * (u / (1.0 + u)) * (4.0 * ((n + 1.0) / d) / d)
        return y, slope


SELU_ALPHA = 1.6732632423543772848170429916717
"""`SELU`'s α (PyTorch's constant)."""
SELU_SCALE = 1.0507009873554804934193349852946
"""`SELU`'s λ (PyTorch's constant)."""


class SELU(InputActivation):
    """Scaled ELU, as ``torch.nn.SELU``: ``y = λx`` for ``x > 0``, else ``λα(e^x − 1)``,
    with ``α ≈ 1.6733`` and ``λ ≈ 1.0507`` (Klambauer et al., 2017; PyTorch's constants);
    ``dy/dx = λ`` for ``x > 0``, else ``λα e^x`` (at 0 too, as PyTorch).

    From the input: the output's ``y + λα`` would lose ``λα e^x`` to cancellation for
    very negative ``x``. The exponent is ``min(x, 0)``: nothing overflows.

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        xp = backend.namespace(x)
        negative = xp.minimum(x, 0.0)
        positive = x > 0
        y: Array = select(positive, SELU_SCALE * x,
                          (SELU_SCALE * SELU_ALPHA) * xp.expm1(negative))
        slope: Array = select(positive, SELU_SCALE, (SELU_SCALE * SELU_ALPHA) * xp.exp(negative))
        return y, slope


class CELU(InputActivation):
    """Continuously differentiable ELU, as ``torch.nn.CELU``: ``y = x`` for ``x > 0``,
    else ``α(e^(x/α) − 1)``; ``dy/dx = 1`` for ``x > 0``, else ``e^(x/α)`` (at 0 too).

    Parameters
    ----------
    alpha : float ≠ 0, default 1
        A negative ``α`` is PyTorch's too; then ``e^(x/α)`` grows as ``x → −∞`` and
        overflows, to ``−inf`` (and an infinite slope), where PyTorch's does.

    Raises
    ------
    ValueError
        ``alpha`` 0 or not a finite number; otherwise as `InputActivation`.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_number("CELU", "alpha", alpha, "a finite nonzero number",
                                  lambda v: math.isfinite(v) and v != 0)

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        xp = backend.namespace(x)
        scaled = xp.minimum(x, 0.0) * (1.0 / self.alpha)  # PyTorch's x · (1/α)
        positive = x > 0
        y: Array = select(positive, x, self.alpha * xp.expm1(scaled))
        slope: Array = select(positive, 1.0, xp.exp(scaled))
        return y, slope

    @override
    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softsign(InputActivation):
    """``y = x / (1 + |x|)``, as ``torch.nn.Softsign``; ``dy/dx = 1 / (1 + |x|)²``,
    computed as ``(1/(1 + |x|))²`` (no overflow for huge ``x``; exact where PyTorch's
    autograd of the quotient cancels, at ``|x|`` beyond 1e8).

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        denominator = 1.0 + backend.namespace(x).abs(x)
        y: Array = x / denominator
        inverse = 1.0 / denominator
        slope: Array = inverse * inverse
        return y, slope


class Tanhshrink(InputActivation):
    """``y = x − tanh(x)``, as ``torch.nn.Tanhshrink``; ``dy/dx = tanh²(x)``.

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        t = backend.namespace(x).tanh(x)
        y: Array = x - t
        slope: Array = t * t
        return y, slope
