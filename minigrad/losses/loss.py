"""The base `Loss`: ``forward(pred, target)`` and ``backward(grad=None) -> dL/dpred``,
its reductions, and the argument checks every loss shares.

The value and the gradient are always the same function's:
``backward`` returns the exact derivative of what ``forward`` returned (checked by
finite differences and against PyTorch in the tests). Losses know nothing of layers.

Reductions, as PyTorch's: each loss computes per-element losses ``ℓ`` and combines
them by ``reduction``:

- ``"mean"`` (default): ``L = Σ ℓ / D``, a Python float. ``D`` is the number of
  elements, or for the class-index losses the summed weights of the kept targets.
- ``"sum"``: ``L = Σ ℓ``, a Python float.
- ``"none"``: ``forward`` returns the array ``ℓ`` itself (``pred``'s shape, or the
  target's for the class-index losses), and ``backward(grad)`` takes the upstream
  gradient ``dL/dℓ`` of that shape -- the chain rule's next link -- and returns
  ``Σ grad · dℓ/dpred``. Without ``grad`` it is all ones: the gradient of ``Σ ℓ``.
  `fit` needs a scalar loss and refuses ``"none"``.

Every array library: a loss computes in the library (and on the device) of ``pred`` --
NumPy, a torch tensor, CuPy, ``array_api_strict`` (see ``docs/backends.md``) -- and
returns its gradients there. The target must be an array of that same library and
device (NumPy predictions take any array-like); another is refused, naming both, never
copied. Reduced values are Python floats, summed in float64.

For ``"mean"`` and ``"sum"``, ``backward(grad)`` takes an optional scalar ``grad``
(default 1) that scales the gradient.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Generic, Literal

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, CacheT

Reduction = Literal["none", "mean", "sum"]


class Loss(ABC, Generic[CacheT]):
    """Base of all losses. Calling a loss is `forward`.

    Subclasses compute per-element losses and hand them to `reduce`; their
    ``backward`` multiplies the local derivative by `upstream`.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
        How per-element losses combine (see the module docstring).

    Raises
    ------
    ValueError
        ``reduction`` not "none", "mean" or "sum" (from the constructor); from
        ``forward`` of the built-in losses, an empty ``pred`` or a ``target`` of another
        shape; from ``backward``, an upstream ``grad`` of the wrong shape.
    TypeError
        From ``forward`` of the built-in losses: a non-real ``pred`` or ``target``, or a
        ``target`` of another array library or device than ``pred`` (naming both); from
        ``backward`` with ``"none"``, an upstream ``grad`` of another library or device.
    RuntimeError
        ``backward`` before any ``forward``.
    """

    # Class-level defaults, so a subclass whose ``__init__`` skips ``super().__init__()``
    # still works (as `Module` does).
    reduction: Reduction = "mean"
    _cache: CacheT | None = None
    _denominator: float = 1.0
    _loss_shape: tuple[int, ...] = ()

    def __init__(self, reduction: Reduction = "mean") -> None:
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'none', 'mean' or 'sum', "
                f"got {reduction!r}"
            )
        self.reduction: Reduction = reduction
        self._cache: CacheT | None = None

    @abstractmethod
    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        """The loss of ``pred`` against ``target``: a Python float ("mean", "sum") or
        the per-element losses ("none")."""

    @abstractmethod
    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """dL/dpred for the latest `forward`, in ``pred``'s shape and dtype; ``grad`` is
        the upstream gradient (a scalar, or for "none" an array of the losses' shape)."""

    def __call__(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        return self.forward(pred, target)

    def reduce(self, losses: Array, denominator: float | None = None) -> float | Array:
        """Combine per-element ``losses`` by the reduction, remembering what `upstream`
        needs. ``denominator`` is the mean's ``D`` (default ``losses.size``); a zero one
        gives NaN, as PyTorch's (every target ignored)."""
        self._loss_shape = tuple(losses.shape)
        self._denominator = float(math.prod(self._loss_shape) if denominator is None
                                  else denominator)
        if self.reduction == "none":
            return losses
        return self.scalar(backend.wide_sum(losses))

    @property
    def denominator(self) -> float:
        """The latest `forward`'s ``D``: what its "mean" divides the summed per-element
        losses by (the number of elements, the kept targets' summed weights, or
        `KLDivLoss`'s batch size for "batchmean"), whatever the reduction. `fit` reads it
        to weight samples and to accumulate gradients exactly; 1 before any forward."""
        return self._denominator

    def scalar(self, total: float) -> float:
        """The summed loss ``total`` as the reduction's value (mean or sum)."""
        if self.reduction == "sum":
            return total
        return total / self._denominator if self._denominator else math.nan

    def upstream(self, grad: npt.ArrayLike | None, like: Array) -> float | Array:
        """dL/dℓ: what each element's local derivative is multiplied by -- the upstream
        ``grad`` times ``1/D`` for "mean". For "none" an array of the losses' shape (or
        1.0) in the library, device and dtype of ``like`` (the cached prediction-side
        array); otherwise a float. A zero ``D`` gives 0 (no element counts)."""
        if grad is None:  # the common case first: a loss ends the chain
            if self.reduction != "mean":
                return 1.0
            return 1.0 / self._denominator if self._denominator else 0.0
        none = self.reduction == "none"
        if none and not backend.same_place(grad, like) and (
                backend.is_foreign(grad) or backend.is_foreign(like)):
            raise TypeError(f"{self!r}: backward expected an upstream gradient of "
                            f"{backend.describe(like)} (the prediction's library and device), "
                            f"got {backend.describe(grad)}")
        array: Any = grad if backend.is_foreign(grad) else np.asarray(grad)
        expected = self._loss_shape if none else ()
        if tuple(array.shape) != expected or backend.numpy_dtype(array.dtype).kind not in "biuf":
            what = "the losses' shape" if none else "a scalar"
            raise ValueError(f"{self!r}: backward expected a real upstream gradient of shape "
                             f"{expected} ({what}), got {array.dtype} {tuple(array.shape)}")
        if none:
            converted: Array = backend.cast(array, like.dtype)
            return converted
        scale = float(array)
        if self.reduction == "sum":
            return scale
        return scale / self._denominator if self._denominator else 0.0

    def _saved(self) -> CacheT:
        """The latest `forward`'s cache, or `RuntimeError` if there was none."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        return self._cache

    def extra_repr(self) -> str:
        """The options beyond ``reduction`` that differ from their defaults, for `repr`."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r}{self.extra_repr()})"


def as_prediction(loss: Loss[Any], pred: npt.ArrayLike) -> Array:
    """``pred`` as a non-empty floating array of its library (bool/int become float64)."""
    if backend.is_numpy_float(pred):
        return pred  # the hot path: nothing to check
    array: Any = pred if backend.is_foreign(pred) else np.asarray(pred)
    kind = backend.numpy_dtype(array.dtype).kind
    if kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real prediction, got dtype {array.dtype}")
    if math.prod(array.shape) == 0:
        raise ValueError(f"{loss!r} got an empty prediction of shape {tuple(array.shape)}")
    floating: Array = array if kind == "f" else backend.cast(
        array, backend.namespace(array).float64)
    return floating


def as_prediction_and_target(loss: Loss[Any], pred: npt.ArrayLike,
                             target: npt.ArrayLike) -> tuple[Array, Array]:
    """`as_prediction` and `as_target` in one, for the losses whose target has the
    prediction's shape: a NumPy pair that needs neither costs one check, not two."""
    if backend.is_numpy_float(target, pred):
        return pred, target  # type: ignore[return-value]  # the hot path: nothing to check
    p = as_prediction(loss, pred)
    return p, as_target(loss, target, p)


def as_target_array(loss: Loss[Any], target: object, pred: Array) -> Array:
    """``target`` as an array of ``pred``'s library and device: for a NumPy ``pred`` any
    rectangular array-like; for another library's, an array of it on that device.

    Raises
    ------
    TypeError
        ``target`` of another library or device than ``pred``, naming both.
    ValueError
        A ragged nested-list target.
    """
    if backend.same_place(target, pred):
        return target  # type: ignore[return-value]  # nothing to convert
    if backend.is_foreign(target) or backend.is_foreign(pred):
        raise TypeError(
            f"{loss!r} got pred as {backend.describe(pred)} and target as "
            f"{backend.describe(target)}; pass both of one library and device "
            "(minigrad never copies across them behind your back)"
        )
    try:
        return np.asarray(target)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{loss!r} expected a rectangular target: {exc}") from None


def as_target(loss: Loss[Any], target: npt.ArrayLike, pred: Array) -> Array:
    """``target`` checked to be of ``pred``'s library (`as_target_array`) and shape (no
    broadcasting), cast to its dtype."""
    if backend.is_numpy_float(target, pred):
        return target  # the hot path: nothing to check
    array = as_target_array(loss, target, pred)
    if tuple(array.shape) != tuple(pred.shape):
        raise ValueError(
            f"{loss!r} expected target of shape {tuple(pred.shape)} (the shape of pred), "
            f"got {tuple(array.shape)}"
        )
    if backend.numpy_dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real target, got dtype {array.dtype}")
    converted: Array = backend.cast(array, pred.dtype)
    return converted
