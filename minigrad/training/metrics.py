"""Metrics: ``metric(pred, target) -> float``, named by their ``__name__`` in `fit`'s logs.

>>> import numpy as np, minigrad as mg
>>> mg.accuracy(np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]]), np.array([1, 0, 0]))
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array

Metric = Callable[[Array, Array], float]
"""``metric(pred, target) -> float``, logged under its ``__name__`` in `fit` (e.g.
`accuracy`)."""

def accuracy(
    pred: npt.ArrayLike, target: npt.ArrayLike, *, threshold: float | None = None
) -> float:
    """The fraction of samples whose predicted class is the target class.

    Several output columns (``pred`` of shape ``(N, C)``, ``C > 1``): the predicted class
    is the column of the largest score (``argmax``), so probabilities and logits both
    work; ``threshold`` must not be given. The target is either class indices ``(N,)``
    in ``[0, C)`` or one row per sample ``(N, C)`` (one-hot or probabilities), whose
    ``argmax`` is the class.

    One output column (``pred`` of shape ``(N, 1)`` or ``(N,)``, binary): the predicted
    class is 1 where ``pred > threshold``, and ``threshold`` is required, because the
    right one depends on what ``pred`` holds, which the numbers cannot tell:
    ``threshold=0`` for logits (the raw outputs `BCEWithLogitsLoss` takes),
    ``threshold=0.5`` for probabilities (after a `Sigmoid`). The target holds 0/1 labels
    of shape ``(N,)`` or ``(N, 1)``.

    >>> import numpy as np, minigrad as mg
    >>> logits = np.array([[2.0], [-0.5], [0.3]])       # what BCEWithLogitsLoss sees
    >>> mg.accuracy(logits, np.array([1, 0, 1]), threshold=0)
    1.0
    >>> mg.accuracy(1 / (1 + np.exp(-logits)), np.array([1, 0, 1]), threshold=0.5)
    1.0

    In `fit`, name the bound metric: ``metrics=[("accuracy",
    functools.partial(mg.accuracy, threshold=0))]``.

    On every array library: ``pred`` and ``target`` arrays of one library and device
    (NumPy ``pred`` takes any array-like target); the count is made there, and only the
    fraction comes back, as a Python float.

    Returns
    -------
    float
        The fraction correct, in [0, 1].

    Raises
    ------
    ValueError
        ``pred`` not of shape ``(N,)`` or ``(N, C)`` with N > 0; one output column
        without ``threshold`` (or several with one); a target of another shape than
        those above; class indices not of an integer dtype or outside ``[0, C)``;
        binary targets other than 0 and 1.
    TypeError
        ``pred`` and ``target`` of different array libraries or devices (naming both).
    """
    p, t = _arrays(pred, target)
    xp = backend.namespace(p)
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise ValueError(f"accuracy: pred must have shape (N,) or (N, C), N > 0, got "
                         f"{tuple(p.shape)}")
    if p.ndim == 2 and p.shape[1] > 1:
        if threshold is not None:
            raise ValueError(
                f"accuracy: threshold is for one output column; pred of shape "
                f"{tuple(p.shape)} is scored by argmax"
            )
        predicted = xp.argmax(p, axis=1)
        labels = _class_indices(t, tuple(p.shape))
    else:
        if threshold is None:
            raise ValueError(
                f"accuracy: pred of shape {tuple(p.shape)} is one output column (binary), so say "
                "what it holds: threshold=0 for logits (as BCEWithLogitsLoss takes), "
                "threshold=0.5 for probabilities (after a Sigmoid)"
            )
        predicted = xp.reshape(p, (-1,)) > threshold
        labels = _binary_labels(t, tuple(p.shape))
    return int(xp.count_nonzero(predicted == labels)) / int(p.shape[0])


def _arrays(pred: npt.ArrayLike, target: npt.ArrayLike) -> tuple[Any, Any]:
    """``pred`` and ``target`` as arrays of one library and device (NumPy: any
    array-like), or a TypeError naming both."""
    if not (backend.is_foreign(pred) or backend.is_foreign(target)):
        return np.asarray(pred), np.asarray(target)
    if not backend.same_place(pred, target):
        raise TypeError(f"accuracy: got pred as {backend.describe(pred)} and target as "
                        f"{backend.describe(target)}; pass both of one library and device")
    return pred, target


def _class_indices(t: Array, shape: tuple[int, ...]) -> Array:
    n, classes = shape
    xp = backend.namespace(t)
    if tuple(t.shape) == shape:
        indices: Array = xp.argmax(t, axis=1)
        return indices
    if tuple(t.shape) != (n,):
        raise ValueError(
            f"accuracy: with pred of shape {shape} the target must be class indices ({n},) "
            f"or one row per sample {shape}, got {tuple(t.shape)}"
        )
    if backend.numpy_dtype(t.dtype).kind not in "iu":
        raise ValueError(f"accuracy: class indices must be integers, got dtype {t.dtype}")
    low, high = int(xp.min(t)), int(xp.max(t))
    if low < 0 or high >= classes:
        raise ValueError(
            f"accuracy: class indices must lie in [0, {classes}), "
            f"got values from {low} to {high}"
        )
    return t


def _binary_labels(t: Array, shape: tuple[int, ...]) -> Array:
    n = shape[0]
    if tuple(t.shape) not in ((n,), (n, 1)):
        raise ValueError(
            f"accuracy: with one output column the target must have shape ({n},) or "
            f"({n}, 1), got {tuple(t.shape)}"
        )
    xp = backend.namespace(t)
    labels = xp.reshape(t, (-1,))
    if not bool(xp.all((labels == 0) | (labels == 1))):
        raise ValueError("accuracy: binary targets must be 0 or 1")
    positive: Array = labels == 1
    return positive
