"""Optimizers: they see a flat list of `Parameter`s, never layers.

``step()`` updates every ``param.data`` in place from ``param.grad`` (so references
held elsewhere stay valid); ``zero_grad()`` clears the gradients.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from minigrad.base import Array, Parameter


def _check_positive(owner: str, name: str, value: float) -> float:
    if not isinstance(value, (int, float, np.floating, np.integer)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


class Optimizer(ABC):
    """Base: holds the parameter list and a scratch buffer for in-place updates."""

    def __init__(self, params: Iterable[Parameter]) -> None:
        self.params: list[Parameter] = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for index, param in enumerate(self.params):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{name}: params[{index}] is a {type(param).__name__}, not a Parameter"
                )
            if id(param) in seen:
                raise ValueError(f"{name}: params[{index}] ({param.name!r}) appears twice")
            seen.add(id(param))
        # One flat buffer per dtype, as large as the largest parameter: the update
        # `data -= lr * grad` is done as two in-place ufuncs through a view of it,
        # so a step allocates nothing parameter-sized.
        self._scratch: dict[np.dtype[Any], Array] = {}
        for param in self.params:
            size = max(param.size, self._scratch.get(param.dtype, np.empty(0)).size)
            self._scratch[param.dtype] = np.empty(size, dtype=param.dtype)

    def scratch(self, param: Parameter) -> Array:
        """A reusable temporary shaped like ``param`` (contents undefined)."""
        return self._scratch[param.dtype][: param.size].reshape(param.shape)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero, in place."""
        for param in self.params:
            param.grad.fill(0)

    @abstractmethod
    def step(self) -> None:
        """Update every parameter from its gradient, in place."""


class SGD(Optimizer):
    """Plain gradient descent: ``θ ← θ − lr · ∇θ``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float > 0
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        super().__init__(params)
        self.lr = _check_positive("SGD", "lr", lr)

    def step(self) -> None:
        for param in self.params:
            update = np.multiply(param.grad, self.lr, out=self.scratch(param))
            param.data -= update

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"
