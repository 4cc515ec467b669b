"""Metrics: ``metric(pred, target) -> float``, named by their ``__name__`` in `fit`'s logs.

>>> import numpy as np, minigrad as mg
>>> mg.accuracy(np.array([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]]), np.array([1, 0, 0]))
0.6666666666666666
"""

from __future__ import annotations

import math
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
    pred: npt.ArrayLike, target: npt.ArrayLike, *, threshold: float | None = None,
    ignore_index: int | None = -100,
) -> float:
    """The fraction of predictions whose class is the target class: one per sample, or
    one per position of a sequence (a tagger's ``(N, T, C)`` scores).

    Several output columns (``pred`` of shape ``(..., C)``, ``C > 1``: ``(N, C)``, or
    ``(N, T, C)`` for a sequence -- the class axis last, as minigrad's losses have it):
    the predicted class is the column of the largest score (``argmax``), so
    probabilities and logits both work; ``threshold`` must not be given. The target is
    either class indices of shape ``(...)`` (``(N,)``, ``(N, T)``) in ``[0, C)`` or one
    row per prediction ``(..., C)`` (one-hot or probabilities), whose ``argmax`` is the
    class. Class indices equal to ``ignore_index`` (default -100, `CrossEntropyLoss`'s:
    the padding of a batch of sequences) are not scored, neither right nor wrong; None
    scores every target.

    >>> import numpy as np, minigrad as mg
    >>> tags = np.array([[[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]])   # (N=1, T=3, C=2)
    >>> mg.accuracy(tags, np.array([[0, 0, -100]]))                # the last step padding
    0.5

    One output column (``pred`` of shape ``(N,)`` or ``(..., 1)``, binary): the
    predicted class is 1 where ``pred > threshold``, and ``threshold`` is required,
    because the right one depends on what ``pred`` holds, which the numbers cannot
    tell: ``threshold=0`` for logits (the raw outputs `BCEWithLogitsLoss` takes),
    ``threshold=0.5`` for probabilities (after a `Sigmoid`). The target holds 0/1
    labels of ``pred``'s shape with or without its last axis of 1 (``(N,)`` or
    ``(N, 1)`` for ``(N, 1)``).

    >>> logits = np.array([[2.0], [-0.5], [0.3]])       # what BCEWithLogitsLoss sees
    >>> mg.accuracy(logits, np.array([1, 0, 1]), threshold=0)
    1.0
    >>> mg.accuracy(1 / (1 + np.exp(-logits)), np.array([1, 0, 1]), threshold=0.5)
    1.0

    In `fit`, name the bound metric: ``metrics=[("accuracy",
    functools.partial(mg.accuracy, threshold=0))]``. `fit` averages a metric over the
    batches weighted by their numbers of samples, so with ignored targets its epoch
    value weighs each batch by its samples, not by its scored positions.

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
        ``pred`` a scalar or empty; one output column without ``threshold`` (or several
        with one); a target of another shape than those above; class indices not of an
        integer dtype or outside ``[0, C)`` (other than ``ignore_index``); every target
        ignored; binary targets other than 0 and 1.
    TypeError
        ``pred`` and ``target`` of different array libraries or devices (naming both);
        ``ignore_index`` not an int or None.
    """
    if ignore_index is not None and (isinstance(ignore_index, (bool, np.bool_))
                                     or not isinstance(ignore_index, (int, np.integer))):
        raise TypeError(f"accuracy: ignore_index must be an int or None, got {ignore_index!r}")
    p, t = _arrays(pred, target)
    xp = backend.namespace(p)
    if p.ndim == 0 or p.shape[0] == 0 or math.prod(p.shape) == 0:
        raise ValueError(f"accuracy: pred must have shape (N,) or (N, ..., C), N > 0, got "
                         f"{tuple(p.shape)}")
    if p.ndim > 1 and p.shape[-1] > 1:
        if threshold is not None:
            raise ValueError(
                f"accuracy: threshold is for one output column; pred of shape "
                f"{tuple(p.shape)} is scored by argmax"
            )
        predicted = xp.argmax(p, axis=-1)
        labels, scored = _class_indices(t, tuple(p.shape), ignore_index)
        if scored is None:
            return int(xp.count_nonzero(predicted == labels)) / math.prod(labels.shape)
        kept = int(xp.count_nonzero(scored))
        if kept == 0:
            raise ValueError(f"accuracy: every target is ignore_index ({ignore_index}); "
                             "there is nothing to score")
        return int(xp.count_nonzero((predicted == labels) & scored)) / kept
    if threshold is None:
        raise ValueError(
            f"accuracy: pred of shape {tuple(p.shape)} is one output column (binary), so say "
            "what it holds: threshold=0 for logits (as BCEWithLogitsLoss takes), "
            "threshold=0.5 for probabilities (after a Sigmoid)"
        )
    predicted = xp.reshape(p, (-1,)) > threshold
    return int(xp.count_nonzero(predicted == _binary_labels(t, tuple(p.shape)))) / int(
        predicted.shape[0])


def _arrays(pred: npt.ArrayLike, target: npt.ArrayLike) -> tuple[Any, Any]:
    """``pred`` and ``target`` as arrays of one library and device (NumPy: any
    array-like), or a TypeError naming both."""
    if not (backend.is_foreign(pred) or backend.is_foreign(target)):
        return np.asarray(pred), np.asarray(target)
    if not backend.same_place(pred, target):
        raise TypeError(f"accuracy: got pred as {backend.describe(pred)} and target as "
                        f"{backend.describe(target)}; pass both of one library and device")
    return pred, target


def _class_indices(t: Array, shape: tuple[int, ...],
                   ignore_index: int | None) -> tuple[Array, Array | None]:
    """The target's classes for scores of ``shape`` ``(..., C)``, and where they are
    scored (None: everywhere)."""
    positions, classes = shape[:-1], shape[-1]
    xp = backend.namespace(t)
    if tuple(t.shape) == shape:
        indices: Array = xp.argmax(t, axis=-1)
        return indices, None
    if tuple(t.shape) != positions:
        raise ValueError(
            f"accuracy: with pred of shape {shape} the target must be class indices "
            f"{positions} or one row per prediction {shape}, got {tuple(t.shape)}"
        )
    if backend.numpy_dtype(t.dtype).kind not in "iu":
        raise ValueError(f"accuracy: class indices must be integers, got dtype {t.dtype}")
    scored = None if ignore_index is None else t != ignore_index
    # The range is checked on the scored targets only: an ignored one counts as class 0.
    kept = t if scored is None else xp.where(scored, t, xp.zeros_like(t))
    low, high = int(xp.min(kept)), int(xp.max(kept))
    if low < 0 or high >= classes:
        raise ValueError(
            f"accuracy: class indices must lie in [0, {classes}), "
            f"got values from {low} to {high}"
            + ("" if ignore_index is None else f" (besides ignore_index={ignore_index})")
        )
    return t, scored


def _binary_labels(t: Array, shape: tuple[int, ...]) -> Array:
    positions = shape if len(shape) == 1 else shape[:-1]
    if tuple(t.shape) not in (positions, (*positions, 1)):
        raise ValueError(
            f"accuracy: with one output column the target must have shape {positions} or "
            f"{(*positions, 1)}, got {tuple(t.shape)}"
        )
    xp = backend.namespace(t)
    labels = xp.reshape(t, (-1,))
    if not bool(xp.all((labels == 0) | (labels == 1))):
        raise ValueError("accuracy: binary targets must be 0 or 1")
    positive: Array = labels == 1
    return positive
