"""Piecewise activations, defined by cases on ``x``: `Hardtanh`, `ReLU6`, `Hardsigmoid`,
`Hardswish`, `Threshold` and the learned `PReLU`.

Each has PyTorch's formula and PyTorch's derivative at its kinks -- where a one-sided
choice is a convention, the convention is PyTorch's, stated in the class (`ReLU6`: 0 at
0 and at 6). Part of the activations family (`minigrad.layers.activations` re-exports
all of it); the family's conventions hold: a batch of any rank >= 2, a floating input's
dtype kept (bool/int become float64; `PReLU` computes in its weight's dtype), any array
library, finite for every finite input.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad import init as initializers
from minigrad.backend import reduce_sum, select
from minigrad.core import (
    Array,
    Layer,
    Parameter,
    as_grad,
    check_count,
    check_number,
    check_parameter_dtype,
)
from minigrad.core.nd import as_nd
from minigrad.layers.activations.from_input import InputActivation
from minigrad.layers.activations.from_output import Activation

__all__ = ["Hardsigmoid", "Hardswish", "Hardtanh", "PReLU", "ReLU6", "Threshold"]


def _not_nan(owner: str, name: str, value: object) -> float:
    """``value`` as a float if it is a real number other than NaN (±inf allowed, as
    PyTorch allows them), else `ValueError` naming it."""
    return check_number(owner, name, value, "a number (not NaN)", lambda v: not math.isnan(v))


class Hardtanh(Activation):
    """``y = clip(x, min_val, max_val)``, as ``torch.nn.Hardtanh``; ``dL/dx = G`` where
    ``min_val < x < max_val``, 0 elsewhere -- at the bounds themselves too, as PyTorch.

    Backward from the output: clipping is exact, so ``min_val < y < max_val`` exactly
    where ``x`` is strictly inside.

    Cache: the output ``y``.

    Parameters
    ----------
    min_val, max_val : float, default -1 and 1
        The bounds, ``min_val < max_val`` (either may be infinite).

    Raises
    ------
    ValueError
        From the constructor: a NaN or non-number bound, or ``max_val <= min_val``;
        otherwise as every `Activation`.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        name = type(self).__name__
        self.min_val = _not_nan(name, "min_val", min_val)
        self.max_val = _not_nan(name, "max_val", max_val)
        if self.max_val <= self.min_val:
            raise ValueError(f"{name}: max_val must be greater than min_val, got "
                             f"min_val={min_val!r}, max_val={max_val!r}")

    @override
    def function(self, x: Array) -> Array:
        y: Array = backend.namespace(x).clip(x, self.min_val, self.max_val)
        return y

    @override
    def gradient(self, y: Array, g: Array) -> Array:
        grad_in: Array = select((y > self.min_val) & (y < self.max_val), g, 0.0)
        return grad_in

    @override
    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """``y = min(max(x, 0), 6)``, as ``torch.nn.ReLU6`` (a `Hardtanh` from 0 to 6);
    ``dL/dx = G`` for ``0 < x < 6``, 0 elsewhere -- 0 at 0 and at 6, as PyTorch.

    Cache: the output ``y``.

    Raises: as every `Activation`.
    """

    def __init__(self) -> None:
        super().__init__(0.0, 6.0)

    @override
    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(InputActivation):
    """``y = min(max(x + 3, 0), 6) / 6``, as ``torch.nn.Hardsigmoid``; ``dy/dx = 1/6``
    for ``−3 < x < 3``, 0 elsewhere (at ±3 too, as PyTorch).

    The slope comes from the input: ``x + 3`` rounds to 6 just below ``x = 3``, where
    the output would say 0 and PyTorch says 1/6. (PyTorch's float64 backward uses 1/6
    rounded to float32, 3e-8 off; this is the float64 1/6.)

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        xp = backend.namespace(x)
        y: Array = xp.clip(x + 3.0, 0.0, 6.0) / 6.0
        slope: Array = xp.astype((x > -3.0) & (x < 3.0), x.dtype) / 6.0
        return y, slope


class Hardswish(InputActivation):
    """``y = x · min(max(x + 3, 0), 6) / 6``, as ``torch.nn.Hardswish`` (Howard et al.,
    MobileNetV3); ``dy/dx = 0`` for ``x ≤ −3``, ``x/3 + 1/2`` for ``−3 < x < 3``, 1 for
    ``x ≥ 3`` -- so 0 at −3 and 1 at 3, PyTorch's one-sided choices.

    Raises: as `InputActivation`.
    """

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        xp = backend.namespace(x)
        y: Array = x * (xp.clip(x + 3.0, 0.0, 6.0) / 6.0)  # (x · 6) could overflow
        slope: Array = select(x <= -3.0, 0.0, select(x < 3.0, x / 3.0 + 0.5, 1.0))
        return y, slope


class Threshold(InputActivation):
    """``y = x`` where ``x > threshold``, else ``value``, as ``torch.nn.Threshold``;
    ``dy/dx = [x > threshold]`` (0 at the threshold itself, as PyTorch).

    The slope comes from the input: a ``value`` above the threshold makes the two cases
    overlap in ``y``.

    Parameters
    ----------
    threshold, value : float
        Any numbers but NaN (PyTorch's two positional arguments, without defaults).

    Raises
    ------
    ValueError
        A NaN or non-number ``threshold`` or ``value``; otherwise as `InputActivation`.
    """

    def __init__(self, threshold: float, value: float) -> None:
        self.threshold = _not_nan("Threshold", "threshold", threshold)
        self.value = _not_nan("Threshold", "value", value)

    @override
    def function(self, x: Array) -> tuple[Array, Array]:
        at_or_below = x <= self.threshold  # PyTorch's test: a NaN input stays NaN
        y: Array = select(at_or_below, self.value, x)
        slope: Array = backend.namespace(x).astype(x > self.threshold, x.dtype)
        return y, slope

    @override
    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class PReLU(Layer[Array]):
    """Parametric ReLU, as ``torch.nn.PReLU``: ``y = x`` for ``x > 0``, else ``w · x``,
    with a learned slope ``w`` -- one for the whole input, or one per channel (axis 1,
    as in PyTorch: ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)``).

    Backward, for ``G = dL/dy`` (``x = 0`` takes the ``w`` side, as PyTorch)::

        dL/dx = G ⊙ (1 if x > 0 else w)
        dL/dw += Σ G ⊙ x ⊙ [x ≤ 0]     (over every axis but the channel's)

    Shapes: ``(N, C, ...) -> (N, C, ...)``; ``weight (num_parameters,)``.

    Cache: the input ``x`` (its sign is not the output's when ``w < 0``).

    Parameters
    ----------
    num_parameters : int, default 1
        1 (one slope), or the number of channels ``C`` (one slope each).
    init : float, default 0.25
        Every slope's initial value (PyTorch's name and default; not an initializer).
    rng : int, numpy Generator or RandomState, optional
        Taken (and checked) as by every layer with parameters; nothing is drawn.
    dtype : float dtype, default float64
        Dtype of ``weight`` and of the computation.

    Raises
    ------
    ValueError
        From the constructor: ``num_parameters`` not an int >= 1, ``init`` not a finite
        number, a bad ``rng``; from ``forward``: an input of rank < 2, or without
        ``num_parameters`` channels on axis 1 (when it is not 1), or empty.
    TypeError
        A non-floating ``dtype``; a non-real input or gradient (naming the layer).
    RuntimeError
        ``backward`` before any ``forward``.
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        *,
        rng: initializers.SeedLike = None,
        dtype: npt.DTypeLike = np.float64,
    ) -> None:
        count = check_count("PReLU", "num_parameters", num_parameters, 1)
        slope = check_number("PReLU", "init", init, "a finite number", math.isfinite)
        initializers.make_rng(rng)  # checked; nothing to draw
        dtype = check_parameter_dtype("PReLU", dtype)
        self.weight = Parameter(np.full(count, slope, dtype), name="weight")

    @property
    def channels(self) -> int:
        """The number of slopes, PyTorch's ``num_parameters``: 1, or the channels ``C``.
        (``num_parameters()``, every module's method, counts the same here.)"""
        return int(self.weight.shape[0])

    def _slopes(self, ndim: int) -> Array:
        """``w`` shaped to broadcast along axis 1 of a rank-``ndim`` batch."""
        w = self.weight.data
        if self.channels == 1:
            return w
        shaped: Array = backend.reshape(w, (self.channels, *(1,) * (ndim - 2)))
        return shaped

    @override
    def forward(self, x: Array) -> Array:
        n = self.channels
        x = as_nd(self, x, expected="(batch, ...)" if n == 1 else f"(batch, {n}, ...)",
                  ndims=range(2, 65), sizes=None if n == 1 else {1: n},
                  like=self.weight.data)
        self.cache = x
        y: Array = select(x > 0, x, self._slopes(x.ndim) * x)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        x, g = self._saved_grad(grad_out)
        self._accumulate(x, g)
        grad_in: Array = g * select(x > 0, 1.0, self._slopes(x.ndim))
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        self._accumulate(*self._saved_grad(grad_out))

    def _saved_grad(self, grad_out: Array) -> tuple[Array, Array]:
        x = self.saved()
        return x, as_grad(self, grad_out, x.shape, x.dtype)

    def _accumulate(self, x: Array, g: Array) -> None:
        """``dL/dw += Σ G ⊙ x ⊙ [x ≤ 0]`` over every axis but the channel's."""
        if not self.weight.requires_grad:  # frozen: nothing accumulates
            return
        axes = tuple(axis for axis in range(x.ndim) if self.channels == 1 or axis != 1)
        negative_part = backend.namespace(x).minimum(x, 0.0)  # x ⊙ [x ≤ 0]
        self.weight.grad += backend.reshape(reduce_sum(negative_part, axes, g),
                                            (self.channels,))

    @override
    def extra_repr(self) -> str:
        text = f"num_parameters={self.channels}" if self.channels != 1 else ""
        if backend.numpy_dtype(self.weight.dtype) != np.float64:
            text += (", " if text else "") + f"dtype={self.weight.dtype}"
        return text

