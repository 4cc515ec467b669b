"""What the probabilistic, margin and embedding losses share: their ``weight`` option,
checks of targets and value ranges, integer class indices, and the stable forms of the
logistic functions and of vector norms.

Every helper computes in the library of its array argument (``xp``), as every loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array
from minigrad.losses.loss import Loss, as_target_array

EPSILON = float(np.float32(1e-12))
"""ATen's ``constexpr float EPSILON = 1e-12`` (so 9.99999996e-13 in float64): the floor of
`BCELoss`'s gradient denominator and the term `CosineEmbeddingLoss` adds to squared
norms. Taken as PyTorch rounds it, so results agree to the last digits there too."""


# -- weights --------------------------------------------------------------------------


def check_weight(owner: str, name: str, weight: npt.ArrayLike | None,
                 one_dimensional: bool = False) -> Array | None:
    """``weight`` as a finite float64 NumPy array (or None), else `ValueError` naming it:
    kept in NumPy and moved to the prediction's library at each forward (`weight_on`)."""
    if weight is None:
        return None
    array = np.asarray(weight)
    if array.dtype.kind not in "biuf" or array.size == 0 or (one_dimensional
                                                             and array.ndim != 1):
        what = "a non-empty 1-D real array" if one_dimensional else "a non-empty real array"
        raise ValueError(f"{owner}: {name} must be {what}, got {array.dtype} of shape "
                         f"{array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{owner}: {name} must be finite, got {array.tolist()}")
    return array


def weight_on(loss: Loss[Any], name: str, weight: Array | None, like: Array,
              classes: bool = False) -> Array | None:
    """The constructor's ``weight`` in the library, device and dtype of ``like`` (the
    prediction), checked to broadcast to its shape -- or, with ``classes``, to be one
    weight per class of its last axis. `ValueError` naming the loss otherwise."""
    if weight is None:
        return None
    shape = tuple(like.shape)
    if classes and (not shape or weight.shape != shape[-1:]):
        raise ValueError(f"{loss!r} expected {name} of length {shape[-1] if shape else '?'} "
                         f"(one per class, the last axis of pred {shape}), got shape "
                         f"{weight.shape}")
    try:
        fits = np.broadcast_shapes(weight.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{loss!r} expected {name} broadcastable to the prediction's shape "
                         f"{shape}, got shape {weight.shape}")
    moved: Array = backend.constant_like(weight, like)  # like's library, device, dtype
    return moved


def weight_repr(name: str, weight: Array | None) -> str:
    """``", name=[...]"`` for `Loss.extra_repr`, or nothing without a weight."""
    return "" if weight is None else f", {name}={weight.tolist()}"


# -- targets and value ranges ---------------------------------------------------------


def target_of_shape(loss: Loss[Any], target: npt.ArrayLike, like: Array,
                    shape: tuple[int, ...], meaning: str) -> Array:
    """``target`` as a real array of ``like``'s library, device and dtype, of exactly
    ``shape`` (``meaning`` says what that shape is, for the error)."""
    array = as_target_array(loss, target, like)
    if tuple(array.shape) != shape:
        raise ValueError(f"{loss!r} expected target of shape {shape} ({meaning}), got "
                         f"{tuple(array.shape)}")
    if backend.numpy_dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"{loss!r} expected a real target, got dtype {array.dtype}")
    converted: Array = backend.cast(array, like.dtype)
    return converted


def check_range(loss: Loss[Any], what: str, array: Array, low: float,
                high: float | None = None) -> None:
    """`ValueError` naming the loss unless every element of ``array`` lies in
    ``[low, high]`` (``high`` None: no upper bound); NaN never does."""
    xp = backend.namespace(array)
    inside = array >= low if high is None else (array >= low) & (array <= high)
    if not bool(xp.all(inside)):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{loss!r} expected {what} {bounds}, got values from "
                         f"{float(xp.min(array))} to {float(xp.max(array))}")


def check_signs(loss: Loss[Any], target: Array) -> None:
    """`ValueError` naming the loss unless every target is 1 or -1: the losses whose
    formula picks a branch by ``y == 1`` / ``y == -1`` (PyTorch silently gives another
    value for anything else)."""
    xp = backend.namespace(target)
    flat = xp.reshape(target, (-1,))
    other = flat[(flat != 1) & (flat != -1)]
    if other.shape[0]:
        raise ValueError(f"{loss!r} expected targets of 1 or -1, got {float(other[0])}")


def class_indices(loss: Loss[Any], target: npt.ArrayLike, z: Array) -> Array:
    """Integer class indices of shape ``z.shape[:-1]`` (classes last), each in
    ``[0, C)``, as an array of ``z``'s library; `ValueError` or `TypeError` naming the
    loss otherwise."""
    t = as_target_array(loss, target, z)
    if tuple(t.shape) != tuple(z.shape[:-1]):
        raise ValueError(f"{loss!r} expected target of shape {tuple(z.shape[:-1])} (class "
                         f"indices, classes last) for a prediction of shape "
                         f"{tuple(z.shape)}, got {tuple(t.shape)}")
    if backend.numpy_dtype(t.dtype).kind not in "iu":
        raise TypeError(f"{loss!r} expected integer class indices, got dtype {t.dtype}")
    xp = backend.namespace(t)
    classes = z.shape[-1]
    low, high = int(xp.min(t)), int(xp.max(t))
    if low < 0 or high >= classes:
        raise ValueError(f"{loss!r} expected class indices in [0, {classes}) for {classes} "
                         f"classes, got {low if low < 0 else high}")
    return t


# -- stable forms ---------------------------------------------------------------------


def logistic(u: Array) -> tuple[Array, Array, Array, Array]:
    """``softplus(u)``, ``softplus(−u)``, ``σ(u)`` and ``σ(−u)``, all from the one
    ``e = e^(−|u|)`` in (0, 1]: no positive number is exponentiated and no log(0) taken,
    so all four are finite for any finite ``u``, and tiny values survive (``σ(−700)``
    is not rounded to 0, as ``1 − σ(700)`` would be).

        softplus(±u) = max(±u, 0) + log(1 + e)
        σ(u) = 1/(1 + e) for u >= 0, e/(1 + e) below; σ(−u) the other way round
    """
    xp = backend.namespace(u)
    e = xp.exp(-xp.abs(u))
    log1p_e = xp.log1p(e)
    positive = u >= 0
    e1 = e + 1
    return (xp.maximum(u, 0.0) + log1p_e, xp.maximum(-u, 0.0) + log1p_e,
            xp.where(positive, 1.0, e) / e1, xp.where(positive, e, 1.0) / e1)


def p_norm(v: Array, p: float) -> tuple[Array, Array]:
    """``n = ‖v‖_p`` over the last axis (shape ``v.shape[:-1]``) and its gradient
    ``dn/dv = sign(v) · (|v| / n)^(p−1)`` (0 where ``n = 0``, as PyTorch's), for
    ``p >= 1``.

    Computed as ``m · (Σ (|v|/m)^p)^(1/p)`` with ``m = max |v|``: every ratio lies in
    [0, 1], so no power overflows or underflows to 0 unless the norm itself does.
    """
    xp = backend.namespace(v)
    size = xp.abs(v)
    top = xp.max(size, axis=-1, keepdims=True)
    scale = xp.where(top > 0, top, 1.0)  # v = 0: every ratio 0, the norm 0
    norm = scale[..., 0] * xp.sum((size / scale) ** p, axis=-1) ** (1 / p)
    safe = xp.where(norm > 0, norm, 1.0)[..., None]
    grad = xp.sign(v) * (size / safe) ** (p - 1)  # p = 1: 0^0 = 1, so sign(v) itself
    return norm, grad


def l2_norm_with(x: Array, floor: float) -> Array:
    """``√(Σ x² + floor)`` over the last axis, as ``m · √(Σ (x/m)² + floor/m²)`` with
    ``m = max(max |x|, √floor) > 0``: no square overflows for finite ``x``."""
    xp = backend.namespace(x)
    scale = xp.maximum(xp.max(xp.abs(x), axis=-1), floor ** 0.5)
    ratios = x / scale[..., None]
    floor_ratio = floor ** 0.5 / scale  # <= 1, where floor / scale² could overflow
    result: Array = scale * xp.sqrt(xp.sum(ratios * ratios, axis=-1) + floor_ratio * floor_ratio)
    return result


def indicator(mask: Array, like: Array) -> Array:
    """``[mask]``: 1 where ``mask`` holds, else 0, in ``like``'s dtype (a ``where`` of two
    Python numbers would be float64, and the standard refuses it)."""
    ones: Array = backend.namespace(mask).astype(mask, like.dtype)
    return ones


# -- the chain rule -------------------------------------------------------------------


def chain(local: Array, upstream: float | Array) -> Array:
    """``dℓ/dpred · dL/dℓ``: the local derivative times the upstream gradient, the latter
    broadcast over the trailing class or feature axis a per-row loss summed away."""
    if isinstance(upstream, float) or upstream.ndim == local.ndim:
        return local * upstream
    return local * upstream[..., None]


class LocalGradientLoss(Loss[Array]):
    """A loss whose ``forward`` caches the local derivative ``dℓ/dpred`` (written next to
    ``ℓ``, where the two read as one formula), so ``backward`` is the chain rule alone."""

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dpred = dℓ/dpred · upstream``."""
        local = self._saved()
        return chain(local, self.upstream(grad, local))
