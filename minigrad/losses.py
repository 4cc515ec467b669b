"""Losses: ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``.

The value and the gradient are always the same function's: ``backward`` returns the
exact derivative of the number ``forward`` returned (checked by finite differences in
the tests). Losses know nothing of layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from minigrad.base import Array

Reduction = Literal["mean", "sum"]


class Loss(ABC):
    """Base of all losses. Calling a loss is `forward`.

    Parameters
    ----------
    reduction : "mean" or "sum"
        How per-element losses combine into the returned scalar.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}"
            )
        self.reduction: Reduction = reduction
        self._cache: Any = None

    @abstractmethod
    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        """The loss of ``pred`` against ``target``, a Python float."""

    @abstractmethod
    def backward(self) -> Array:
        """dL/dpred for the latest `forward`, in ``pred``'s shape and dtype."""

    def __call__(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        return self.forward(pred, target)

    def _saved(self) -> Any:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


def as_prediction(loss: Loss, pred: npt.ArrayLike) -> Array:
    """``pred`` as a non-empty floating array (bool/int become float64)."""
    array = np.asarray(pred)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real prediction, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{loss!r} got an empty prediction of shape {array.shape}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


class MSELoss(Loss):
    """Mean squared error, the PyTorch/Keras convention.

    ``L = Σ (pred − target)² / n`` with ``n = pred.size`` (``n = 1`` for ``"sum"``);
    ``dL/dpred = 2 · (pred − target) / n``.

    ``pred`` and ``target`` must have the same shape -- no broadcasting, which would
    silently turn ``(N, 1)`` against ``(N,)`` into an ``(N, N)`` loss.

    Cache: the residual ``pred − target``.
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        p = as_prediction(self, pred)
        t = np.asarray(target)
        if t.shape != p.shape:
            raise ValueError(
                f"{self!r} expected target of shape {p.shape} (the shape of pred), "
                f"got {t.shape}"
            )
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{self!r} expected a real target, got dtype {t.dtype}")
        diff = p - t.astype(p.dtype, copy=False)
        self._cache = diff
        total = float(np.vdot(diff, diff))
        return total / diff.size if self.reduction == "mean" else total

    def backward(self) -> Array:
        diff: Array = self._saved()
        scale = 2.0 / diff.size if self.reduction == "mean" else 2.0
        return diff * scale
