"""Losses: ``forward(pred, target) -> float`` and ``backward() -> dL/dpred``.

The value and the gradient are always the same function's: ``backward`` returns the
exact derivative of the number ``forward`` returned (checked by finite differences in
the tests). Losses know nothing of layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, Literal

import numpy as np
import numpy.typing as npt

from minigrad.base import Array, CacheT

Reduction = Literal["mean", "sum"]


class Loss(ABC, Generic[CacheT]):
    """Base of all losses. Calling a loss is `forward`.

    Parameters
    ----------
    reduction : "mean" or "sum"
        How per-element losses combine into the returned scalar.

    Raises
    ------
    ValueError
        ``reduction`` not "mean" or "sum" (from the constructor); from ``forward`` of
        the built-in losses, an empty ``pred`` or a ``target`` of another shape.
    TypeError
        From ``forward`` of the built-in losses: a non-real ``pred`` or ``target``.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    # Class-level defaults, so a subclass whose ``__init__`` skips ``super().__init__()``
    # still works (as `Module` does).
    reduction: Reduction = "mean"
    _cache: CacheT | None = None

    def __init__(self, reduction: Reduction = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}"
            )
        self.reduction: Reduction = reduction
        self._cache: CacheT | None = None

    @abstractmethod
    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        """The loss of ``pred`` against ``target``, a Python float."""

    @abstractmethod
    def backward(self) -> Array:
        """dL/dpred for the latest `forward`, in ``pred``'s shape and dtype."""

    def __call__(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        return self.forward(pred, target)

    def _divisor(self, n: int) -> int:
        """What the summed loss is divided by: ``n`` for "mean", 1 for "sum"."""
        return n if self.reduction == "mean" else 1

    def _saved(self) -> CacheT:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


def as_prediction(loss: Loss[Any], pred: npt.ArrayLike) -> Array:
    """``pred`` as a non-empty floating array (bool/int become float64)."""
    array = np.asarray(pred)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real prediction, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{loss!r} got an empty prediction of shape {array.shape}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def as_target(loss: Loss[Any], target: npt.ArrayLike, pred: Array) -> Array:
    """``target`` checked to have ``pred``'s shape (no broadcasting) and cast to its dtype."""
    array = np.asarray(target)
    if array.shape != pred.shape:
        raise ValueError(
            f"{loss!r} expected target of shape {pred.shape} (the shape of pred), "
            f"got {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real target, got dtype {array.dtype}")
    return array.astype(pred.dtype, copy=False)


class MSELoss(Loss[Array]):
    """Mean squared error, the PyTorch/Keras convention.

    ``L = Σ (pred − target)² / n`` with ``n = pred.size`` (``n = 1`` for ``"sum"``);
    ``dL/dpred = 2 · (pred − target) / n``.

    ``pred`` and ``target`` must have the same shape -- no broadcasting, which would
    silently turn ``(N, 1)`` against ``(N,)`` into an ``(N, N)`` loss.

    Cache: the residual ``pred − target``.

    Raises: as every `Loss`.
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        p = as_prediction(self, pred)
        diff = p - as_target(self, target, p)
        self._cache = diff
        if diff.dtype == np.float64:
            total = float(np.vdot(diff, diff))  # one BLAS call: the blog net's hot path
        else:  # BLAS would accumulate float32 in float32 (and float16 squares overflow)
            total = float(np.square(diff, dtype=np.float64).sum())
        return total / self._divisor(diff.size)

    def backward(self) -> Array:
        diff = self._saved()
        return diff * (2.0 / self._divisor(diff.size))


class BCEWithLogitsLoss(Loss[Array]):
    """Binary cross-entropy on logits ``z`` (a sigmoid and the log-loss fused).

    Per element, with target ``t`` (usually 0 or 1, any real value accepted)::

        ℓ = −[t · log σ(z) + (1 − t) · log(1 − σ(z))]
          = max(z, 0) − z · t + log(1 + e^(−|z|))          dℓ/dz = σ(z) − t

    The second form never exponentiates a positive number and never takes log(0), so
    it is finite for any finite logit (|z| = 1e4 included). ``L = Σ ℓ / n`` with
    ``n = pred.size`` (``n = 1`` for ``"sum"``), as PyTorch's
    ``binary_cross_entropy_with_logits``; ``dL/dz = (σ(z) − t) / n``.

    ``pred`` and ``target`` must have the same shape (no broadcasting).

    Cache: the residual ``σ(z) − t``.

    Raises: as every `Loss`.
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        z = as_prediction(self, pred)
        t = as_target(self, target, z)
        e = np.exp(-np.abs(z))  # e^(−|z|), in (0, 1]
        losses = np.maximum(z, 0)
        losses -= z * t
        losses += np.log1p(e)
        # σ(z) from the same e: 1/(1 + e) for z ≥ 0, e/(1 + e) for z < 0 (keeps tiny values)
        residual = np.where(z >= 0, 1, e)
        e += 1
        residual /= e
        residual -= t
        self._cache = residual
        return float(losses.sum()) / self._divisor(z.size)

    def backward(self) -> Array:
        residual = self._saved()
        return residual / self._divisor(residual.size)


class CrossEntropyLoss(Loss[tuple[Array, Array, Array]]):
    """Softmax cross-entropy on logits ``z`` of shape ``(N, C)``, as PyTorch's.

    Targets are either integer class indices ``y`` of shape ``(N,)`` or class
    probabilities ``t`` of shape ``(N, C)`` (class indices are the one-hot case). With
    the row-wise log-sum-exp ``lse = m + log Σ_c e^(z_c − m)``, ``m = max_c z_c``::

        ℓ = lse − z_y                      dℓ/dz = softmax(z) − onehot(y)
        ℓ = Σ_c t_c · (lse − z_c)          dℓ/dz = softmax(z) · Σ_c t_c − t

    (the second gradient is ``softmax(z) − t`` when the rows of ``t`` sum to 1).
    Subtracting ``m`` keeps every exponential in (0, 1] and the sum ≥ 1, so nothing
    overflows and no log(0) is taken. ``L = Σ ℓ / N`` over the batch (``"mean"``, the
    PyTorch convention -- not over N·C) or ``Σ ℓ`` (``"sum"``), the gradient likewise.

    Cache: ``e^(z − m)``, its row sums, and the targets.

    Raises
    ------
    ValueError
        Logits not 2-D or empty; a target shape other than ``(N,)`` or ``(N, C)``;
        class indices outside ``[0, C)``.
    TypeError
        Non-real logits or probabilities; class indices of a non-integer dtype.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.CrossEntropyLoss()
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> round(loss(logits, np.array([0, 2])), 4)  # (log(e² + 2) − 2 + log 3) / 2
    0.6691
    >>> loss.backward().round(4)  # (softmax − onehot) / N
    array([[-0.1065,  0.0533,  0.0533],
           [ 0.1667,  0.1667, -0.3333]])
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float:
        z = as_prediction(self, pred)
        if z.ndim != 2:
            raise ValueError(f"{self!r} expected logits of shape (N, C), got {z.shape}")
        n = z.shape[0]
        t = self._as_targets(target, z)
        shifted = z - z.max(axis=1, keepdims=True)  # z − m ≤ 0
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)  # ≥ 1: the max's own term is e^0
        lse_shifted = np.log(sums)  # lse − m
        if t.ndim == 1:
            total = np.sum(lse_shifted[:, 0] - shifted[np.arange(n), t])
        else:
            total = np.sum(t * (lse_shifted - shifted), dtype=np.float64)  # pairwise, wide
        self._cache = (exps, sums, t)
        return float(total) / self._divisor(n)

    def _as_targets(self, target: npt.ArrayLike, z: Array) -> Array:
        """Class indices ``(N,)`` as they are, or probabilities ``(N, C)`` in ``z``'s dtype."""
        try:
            t = np.asarray(target)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{self!r} expected a rectangular target: {exc}") from None
        n, classes = z.shape
        if t.shape == (n, classes):
            return as_target(self, t, z)
        if t.shape != (n,):
            raise ValueError(
                f"{self!r} expected target of shape ({n},) (class indices) or {z.shape} "
                f"(probabilities) for logits of shape {z.shape}, got {t.shape}"
            )
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"{self!r} expected integer class indices, got dtype {t.dtype} "
                f"(probability targets have shape (N, C))"
            )
        low, high = t.min(), t.max()
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"{self!r} expected class indices in [0, {classes}) for {classes} classes, "
                f"got {bad}"
            )
        return t

    def backward(self) -> Array:
        exps, sums, t = self._saved()
        n = exps.shape[0]
        grad: Array = exps / sums  # softmax(z)
        if t.ndim == 1:
            grad[np.arange(n), t] -= 1
        else:
            grad *= t.sum(axis=1, keepdims=True)
            grad -= t
        grad /= self._divisor(n)
        return grad
