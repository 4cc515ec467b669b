"""Weight initializers: ``init(shape, rng, dtype) -> array``.

Each factory returns a small callable object with a readable repr: an immutable
``typing.NamedTuple`` (a frozen dataclass would do the same, but defining one costs ~1.7
ms, and this module is on every script's import path). ``shape`` is
``(fan_in, fan_out)`` for a `Dense` weight; a convolution's ``(out, in / groups, *kernel)``
weight has ``fan_in = in / groups · ∏kernel`` and ``fan_out = out · ∏kernel`` (the
receptive field, as in PyTorch, which uses the same rule for a transposed convolution's
``(in, out / groups, *kernel)`` weight). Randomness comes only from the ``rng``
passed in -- NumPy's global RNG is never read or reseeded -- so a fixed ``rng`` gives
the same weights every time.

Initializers always draw NumPy arrays from NumPy generators, whatever array library
the model will compute with: a model is built on NumPy and then moved
(``model.to(torch)``, see `minigrad.Module.to`), so one ``rng`` gives the same initial
weights on every backend -- bit for bit, as a move copies the values unchanged.

>>> import numpy as np, minigrad as mg
>>> w = mg.init.he_normal()((4, 3), np.random.default_rng(0), np.dtype(np.float32))
>>> w.shape, w.dtype
((4, 3), dtype('float32'))
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias

import numpy as np

from minigrad.core import Array, check_positive

RNG: TypeAlias = np.random.Generator | np.random.RandomState
"""Either NumPy random API; `RandomState` reproduces legacy ``np.random.seed`` streams."""

SeedLike: TypeAlias = int | RNG | None


def make_rng(seed: SeedLike) -> RNG:
    """An explicit generator from a seed, a generator, or None (fresh OS entropy).

    A Generator or RandomState is returned as it is; anything else goes to
    ``np.random.default_rng``.

    Raises
    ------
    ValueError
        ``seed`` is a bool, a float, or anything ``np.random.default_rng`` refuses
        (a negative int, a string, ...).
    """
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if not isinstance(seed, (bool, float)):  # NumPy would take True as 1, 1.5 as an error
        try:
            return np.random.default_rng(seed)  # int, SeedSequence, BitGenerator, ...
        except (TypeError, ValueError):
            pass
    raise ValueError(
        "rng must be None, an int >= 0 (a seed), a numpy Generator or RandomState, or "
        f"anything else np.random.default_rng takes; got {seed!r}"
    )


class Initializer(Protocol):
    """Anything that draws a weight array of a given shape and dtype from ``rng``."""

    def __call__(self, shape: tuple[int, ...], rng: RNG, dtype: np.dtype[Any]) -> Array: ...


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)``: a Dense weight is (in, out); a conv weight (out, in, *kernel)
    counts its receptive field ``∏kernel`` in both."""
    if len(shape) > 2:
        field = math.prod(shape[2:])
        return shape[1] * field, shape[0] * field
    fan_in = shape[0] if shape else 1
    fan_out = shape[1] if len(shape) > 1 else fan_in
    return fan_in, fan_out


def draw(
    owner: str, init: Initializer, shape: tuple[int, ...], rng: SeedLike, dtype: np.dtype[Any]
) -> Array:
    """``init(shape, make_rng(rng), dtype)``, checked: what a layer's constructor calls.

    Raises
    ------
    TypeError
        ``init`` did not return an ndarray of ``shape`` and ``dtype`` (naming ``owner``).
    """
    weight = init(shape, make_rng(rng), dtype)
    if not isinstance(weight, np.ndarray) or (weight.shape, weight.dtype) != (shape, dtype):
        raise TypeError(
            f"{owner}: init {init!r} must return an array of shape {shape} and dtype "
            f"{dtype}, got {type(weight).__name__} of shape {np.shape(weight)} and dtype "
            f"{getattr(weight, 'dtype', None)}"
        )
    return weight


class Uniform(NamedTuple):
    """U(low, high): ``low + (high - low) * rng.random(shape)``."""

    low: float
    high: float

    def __call__(self, shape: tuple[int, ...], rng: RNG, dtype: np.dtype[Any]) -> Array:
        return (self.low + (self.high - self.low) * rng.random(shape)).astype(dtype)


class Normal(NamedTuple):
    """N(mean, std²)."""

    std: float
    mean: float = 0.0

    def __call__(self, shape: tuple[int, ...], rng: RNG, dtype: np.dtype[Any]) -> Array:
        return rng.normal(self.mean, self.std, shape).astype(dtype)


class VarianceScaling(NamedTuple):
    """Zero-mean weights with variance ``scale / fan`` (Glorot/Xavier and He/Kaiming).

    ``fan`` is ``fan_in`` or ``(fan_in + fan_out) / 2``; a uniform draw uses the bound
    ``sqrt(3 · scale / fan)``, a normal draw the std ``sqrt(scale / fan)``.
    """

    scale: float
    mode: Literal["fan_in", "fan_avg"]
    distribution: Literal["uniform", "normal"]

    def __call__(self, shape: tuple[int, ...], rng: RNG, dtype: np.dtype[Any]) -> Array:
        fan_in, fan_out = _fans(shape)
        fan = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2
        variance = self.scale / fan
        if self.distribution == "uniform":
            bound = math.sqrt(3.0 * variance)
            return Uniform(-bound, bound)(shape, rng, dtype)
        return Normal(math.sqrt(variance))(shape, rng, dtype)


class Zeros(NamedTuple):
    """All zeros (for weights this stalls learning; useful for tests and biases)."""

    def __call__(self, shape: tuple[int, ...], rng: RNG, dtype: np.dtype[Any]) -> Array:
        return np.zeros(shape, dtype=dtype)


def uniform(low: float, high: float) -> Initializer:
    """U(low, high); ``uniform(-1, 1)`` with ``RandomState(1)`` is the blog post's init.

    Raises
    ------
    ValueError
        Unless ``low < high`` (a NaN bound fails).
    """
    if not low < high:
        raise ValueError(f"uniform needs low < high, got low={low}, high={high}")
    return Uniform(low, high)


def normal(std: float = 1.0, mean: float = 0.0) -> Initializer:
    """N(mean, std²), as ``torch.nn.init.normal_``.

    Raises
    ------
    ValueError
        Unless ``std > 0`` (NaN fails).
    """
    if not std > 0:
        raise ValueError(f"normal needs std > 0, got {std}")
    return Normal(std, mean)


def xavier_uniform(gain: float = 1.0) -> Initializer:
    """Glorot uniform: U(-a, a), ``a = gain · sqrt(6 / (fan_in + fan_out))``.

    Raises `ValueError` unless ``gain`` is a finite number > 0.
    """
    return VarianceScaling(check_positive("xavier_uniform", "gain", gain) ** 2, "fan_avg",
                           "uniform")


def xavier_normal(gain: float = 1.0) -> Initializer:
    """Glorot normal: N(0, σ²), ``σ = gain · sqrt(2 / (fan_in + fan_out))``.

    Raises `ValueError` unless ``gain`` is a finite number > 0.
    """
    return VarianceScaling(check_positive("xavier_normal", "gain", gain) ** 2, "fan_avg",
                           "normal")


def he_uniform() -> Initializer:
    """He/Kaiming uniform for ReLU: U(-a, a), ``a = sqrt(6 / fan_in)``."""
    return VarianceScaling(2.0, "fan_in", "uniform")


def he_normal() -> Initializer:
    """He/Kaiming normal for ReLU: N(0, σ²), ``σ = sqrt(2 / fan_in)``."""
    return VarianceScaling(2.0, "fan_in", "normal")


def zeros() -> Initializer:
    """All zeros."""
    return Zeros()


__all__ = [
    "RNG",
    "Initializer",
    "SeedLike",
    "draw",
    "he_normal",
    "he_uniform",
    "make_rng",
    "normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
