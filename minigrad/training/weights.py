"""Per-sample weights in `fit`: ``sample_weight`` and ``class_weight`` checked, and the
weighted loss of a batch (`WeightedLoss`), as Keras weights its losses.

The weighted loss of a batch is the loss's own reduction of the weighted per-element
losses: with ``ℓ`` the per-element losses (the loss with ``reduction="none"``), ``w``
the weights broadcast to ``ℓ``'s shape and ``D`` the divisor the loss's mean uses
without weights (`Loss.denominator`: the number of elements, or the kept targets'
summed class weights)::

    "mean":  L = Σ w·ℓ / D        "sum":  L = Σ w·ℓ        (dL/dℓ = w/D, or w)

So the mean divides by the number of elements, never by the sum of the weights (Keras's
``"sum_over_batch_size"``), and all-ones weights give exactly the unweighted loss.

Broadcasting: a weight array of shape ``(N, d1, ..., dk)`` weights the per-element
losses whose shape begins with those axes, repeated along the others -- ``(N,)``
weights a whole sample (every output column of a `MSELoss`, every time step of a
sequence); ``(N, T)`` weights each time step of a ``(N, T, C)`` sequence's
cross-entropy.

Class weights become sample weights from the targets: integer targets are the classes;
floating targets with a last axis of more than one column are one-hot or probability
rows (class axis last), their class the ``argmax``; other floating targets are binary
labels, their class ``round(y)`` (Keras's rules). A sample with both weights gets their
product, as in Keras.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array
from minigrad.losses.loss import Loss

__all__ = ["ClassWeight", "WeightedLoss", "check_class_weight", "check_sample_weight"]

ClassWeight = Mapping[int, float] | npt.ArrayLike
"""``fit``'s ``class_weight``: ``{class: weight}``, or one weight per class."""


def check_sample_weight(owner: str, weight: object, rows: int | None) -> Array:
    """``weight`` as an array of real, finite, non-negative values with one row per
    sample (``rows`` of them, when known), or a ValueError/TypeError naming ``owner``
    (a bool array is refused: a mask passed as weights is more likely a mistake than
    0/1 weights, which ``mask.astype(float)`` states).

    One vectorized pass; an array of another library stays in it."""
    array: Any = weight if backend.is_foreign(weight) else np.asarray(weight)
    kind = backend.numpy_dtype(array.dtype).kind
    if kind == "b":  # a mask is not a weight: say so rather than count True as 1
        raise TypeError(f"{owner}: sample_weight must hold numbers, got a bool array; for "
                        "0/1 weights from a mask, pass mask.astype(float)")
    if kind not in "iuf":
        raise TypeError(f"{owner}: sample_weight must hold real numbers, got dtype "
                        f"{array.dtype}")
    if array.ndim == 0 or (rows is not None and array.shape[0] != rows):
        raise ValueError(f"{owner}: sample_weight must have one row per sample ({rows} "
                         f"rows, shape ({rows}, ...)), got shape {tuple(array.shape)}")
    if kind == "f" or kind == "i":
        xp = backend.namespace(array)
        bad = ~xp.isfinite(array) | (array < 0) if kind == "f" else array < 0
        if bool(xp.any(bad)):
            flat = backend.to_numpy(array).reshape(-1)
            first = flat[~np.isfinite(flat) | (flat < 0)][0]
            raise ValueError(f"{owner}: sample_weight must be finite and >= 0, got {first}")
    return array  # type: ignore[no-any-return]


def check_class_weight(weight: object) -> dict[int, float] | Array:
    """``class_weight`` checked: a dict of class index (int >= 0) to finite weight >= 0,
    or a 1-D array of finite weights >= 0 (one per class, as a float64 NumPy array).

    Whether every class exists -- index below the model's number of output classes --
    is checked at the first batch, when the prediction shows that number."""
    if isinstance(weight, Mapping):
        checked: dict[int, float] = {}
        for key, value in weight.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) \
                    or key < 0:
                raise ValueError(f"fit: class_weight keys must be class indices (ints >= 0), "
                                 f"got {key!r}")
            number = _weight_number(value, f"class_weight[{key}]")
            checked[int(key)] = number
        if not checked:
            raise ValueError("fit: class_weight is an empty dict")
        return checked
    array = np.asarray(weight)
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iuf":
        raise ValueError(f"fit: class_weight must be a dict {{class: weight}} or a non-empty "
                         f"1-D array of weights (one per class), got {array.dtype} of shape "
                         f"{array.shape}")
    array = array.astype(np.float64)
    if not (np.isfinite(array).all() and (array >= 0).all()):
        raise ValueError(f"fit: class_weight must be finite and >= 0, got {array.tolist()}")
    return array


def _weight_number(value: object, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value) or value < 0:
        raise ValueError(f"fit: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _expanded(weight: Array, shape: tuple[int, ...], what: str, loss: Loss[Any]) -> Array:
    """``weight`` (shape ``(N, d1..dk)``) with axes appended to broadcast against per-element
    losses of ``shape``, whose leading axes it must match."""
    ndim = weight.ndim
    if tuple(weight.shape) != shape[:ndim]:
        raise ValueError(f"fit: {what} of shape {tuple(weight.shape)} does not fit the "
                         f"per-element losses of {loss!r}, shape {shape}: a weight array "
                         "must match their leading axes ((N,) weights whole samples)")
    expanded: Array = backend.namespace(weight).reshape(weight, (*weight.shape,
                                                                 *(1,) * (len(shape) - ndim)))
    return expanded


class WeightedLoss:
    """A `Loss`'s reduction of its per-element losses times weights (the module
    docstring's formula), with ``forward`` and ``backward`` as a loss's.

    Parameters
    ----------
    loss_fn : Loss
        With reduction "mean", "sum" (or `KLDivLoss`'s "batchmean", whose ``D`` is the
        batch size); left untouched: a copy with ``reduction="none"`` computes ``ℓ``.
    class_weight : dict or array, optional
        Checked by `check_class_weight`.
    """

    def __init__(self, loss_fn: Loss[Any], class_weight: dict[int, float] | Array | None
                 ) -> None:
        self.reduction: str = loss_fn.reduction  # KLDivLoss adds "batchmean"
        self.elementwise = copy.copy(loss_fn)
        self.elementwise.reduction = "none"
        self.class_weight = class_weight
        self._table: Array | None = None  # the class weights as an array, once C is known
        self._upstream: Array | None = None
        self.denominator = 1.0

    def forward(self, pred: Array, target: Array, sample_weight: Array | None) -> float:
        """``L`` for one batch; ``sample_weight`` (rows of the batch) may be None."""
        losses: Any = self.elementwise.forward(pred, target)
        shape = tuple(losses.shape)
        xp = backend.namespace(losses)
        if not shape or shape[0] != pred.shape[0]:
            raise ValueError(f"fit: sample and class weights need per-element losses with "
                             f"one row per sample; {self.elementwise!r} gives shape {shape} "
                             f"for a batch of {pred.shape[0]}")
        weights = xp.ones(shape, dtype=losses.dtype, device=backend.device(losses))
        if sample_weight is not None:
            cast = backend.cast(sample_weight, losses.dtype)
            weights = weights * _expanded(cast, shape, "sample_weight", self.elementwise)
        if self.class_weight is not None:
            per_class = self._class_weights(pred, target, losses)
            weights = weights * _expanded(per_class, shape, "the class weights of the "
                                          "targets", self.elementwise)
        self._upstream = weights
        if self.reduction == "batchmean":  # KLDivLoss: the batch size, not the elements
            self.denominator = float(pred.shape[0])
        else:
            self.denominator = self.elementwise.denominator
        total = backend.wide_sum(weights * losses)
        if self.reduction == "sum":
            return total
        return total / self.denominator if self.denominator else float("nan")

    def backward(self, grad: float | None = None) -> Array:
        """dL/dpred of the latest forward, the upstream ``grad`` (default 1) scaling it:
        ``Σ (grad·w/D) · dℓ/dpred``."""
        if self._upstream is None:
            raise RuntimeError("WeightedLoss: backward() called before forward()")
        scale = 1.0 if grad is None else grad
        if self.reduction != "sum":
            scale = scale / self.denominator if self.denominator else 0.0
        return self.elementwise.backward(self._upstream * scale)

    def _class_weights(self, pred: Array, target: Array, losses: Array) -> Array:
        """Each target's class weight, shape of the targets' classes (Keras's rules)."""
        xp = backend.namespace(pred)
        kind = backend.numpy_dtype(target.dtype).kind
        if kind in "biu":
            labels = target
            # class indices of a class-index loss: pred has the extra class axis
            classes = pred.shape[-1] if pred.ndim == target.ndim + 1 else 2
        elif target.ndim >= 2 and target.shape[-1] > 1:
            labels, classes = xp.argmax(target, axis=-1), target.shape[-1]
        else:
            labels, classes = xp.round(target), 2  # binary labels (0/1)
        table = self._class_table(classes, pred)
        flat = backend.cast(xp.reshape(labels, (-1,)), xp.int64)
        if flat.shape[0]:
            low, high = int(xp.min(flat)), int(xp.max(flat))
            if low < 0 or high >= classes:
                raise ValueError(f"fit: class_weight: a target has class "
                                 f"{low if low < 0 else high}, outside the model's "
                                 f"{classes} classes [0, {classes})")
        picked: Array = xp.reshape(xp.take(table, flat, axis=0), tuple(labels.shape))
        return picked

    def _class_table(self, classes: int, like: Array) -> Array:
        """The class weights as one array of ``classes`` weights, in ``like``'s library,
        device and dtype (a dict's missing classes weigh 1, as in Keras)."""
        if self._table is not None and self._table.shape[0] == classes:
            return self._table
        weight = self.class_weight
        if isinstance(weight, dict):
            unknown = [key for key in weight if key >= classes]
            if unknown:
                raise ValueError(f"fit: class_weight names class {unknown[0]}, but the "
                                 f"model outputs {classes} classes (prediction shape "
                                 f"{tuple(like.shape)}); classes are 0 to {classes - 1}")
            table = np.ones(classes)
            table[list(weight)] = list(weight.values())
        else:
            assert weight is not None
            if weight.shape[0] != classes:
                raise ValueError(f"fit: class_weight has {weight.shape[0]} weights, but the "
                                 f"model outputs {classes} classes (prediction shape "
                                 f"{tuple(like.shape)}); give one weight per class")
            table = weight
        self._table = backend.constant_like(table, like)
        return self._table
