"""Classification losses, PyTorch-exact: `BCEWithLogitsLoss`, `CrossEntropyLoss`, `NLLLoss`.

The class axis is LAST: logits or log-probabilities of shape ``(..., C)`` with class
indices of shape ``(...)`` -- ``(N, C)`` with ``(N,)``, or ``(N, T, C)`` with ``(N, T)``
for sequences. PyTorch puts it second (``(N, C, ...)``); move it with
``np.moveaxis(z, 1, -1)`` when porting. Reductions and ``backward(grad)`` as every
`Loss` (see `minigrad.losses.loss`).

Every array library, as every loss: the prediction's library and device compute, the
targets (class indices too) must be arrays of that library on that device, and the
constructor's ``weight``/``pos_weight`` (kept as NumPy float64) are moved there, in the
prediction's dtype, at each forward. The log-sum-exp is the stable one everywhere.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_number
from minigrad.losses.loss import (
    Loss,
    Reduction,
    as_prediction,
    as_prediction_and_target,
    as_target,
    as_target_array,
)
from minigrad.losses.shared import check_weight, weight_on, weight_repr


def _class_weights(owner: str, name: str, weight: npt.ArrayLike | None) -> Array | None:
    """``weight`` as a 1-D finite, non-negative float64 array (or None), else `ValueError`
    naming it. (A negative weight turns its class's loss into a reward without bound:
    minimizing it drives that class's probability to 0, the loss to −inf.)"""
    if weight is None:
        return None
    array = np.asarray(weight)
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "biuf":
        raise ValueError(f"{owner}: {name} must be a non-empty 1-D real array, got "
                         f"{array.dtype} of shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{owner}: {name} must be finite and >= 0, got {array}")
    return array


def _weights_for(loss: Loss[Any], name: str, weight: Array | None, z: Array) -> Array | None:
    """The constructor's ``weight`` checked against the ``C`` of ``z``, in its library,
    device and dtype."""
    if weight is None:
        return None
    if len(weight) != z.shape[-1]:
        raise ValueError(f"{loss!r} expected {name} of length {z.shape[-1]} (one per class, the "
                         f"last axis of pred {tuple(z.shape)}), got length {len(weight)}")
    moved: Array = backend.constant_like(weight, z)
    return moved


def _softmax_parts(loss: Loss[Any], z: Array, xp: backend.Namespace
                   ) -> tuple[Array, Array, Array]:
    """``e^(z − m)``, their sums over the last axis and ``log softmax(z) = z − lse`` with
    the stable log-sum-exp ``lse = m + log Σ_c e^(z_c − m)``, ``m = max_c z_c``: every
    exponential lies in (0, 1] and the sums are ≥ 1 (the max's own term is e^0). ``xp``
    is the namespace of ``z``.

    −inf logits (masked classes) are fine: their probability is 0, as in PyTorch. A
    position whose max is not finite -- a +inf or NaN logit, or every logit −inf -- has
    no softmax (inf − inf); PyTorch returns NaN there, this refuses it (`ValueError`
    naming ``loss`` and the first such position), checked on the maxima only."""
    top = backend.last_axis_max(z)  # m
    if not bool(xp.all(xp.isfinite(top))):
        raise _no_softmax(loss, backend.to_numpy(top))
    shifted = z - top  # z − m
    exps = xp.exp(shifted)
    sums = backend.last_axis_sum(exps)
    return exps, sums, shifted - xp.log(sums)


def _no_softmax(loss: Loss[Any], maxima: Array) -> ValueError:
    """The refusal of logits whose max over the classes is ``maxima[position]``."""
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(maxima))[0])
    position, top = first[:-1], float(maxima[first])  # the last axis is the kept class axis
    what = ("a NaN logit" if np.isnan(top) else "a +inf logit" if top > 0
            else "every logit -inf")
    return ValueError(f"{loss!r} got {what} at position {position} of the logits: no "
                      "softmax is defined there (PyTorch returns NaN); -inf masks a class, "
                      "+inf and NaN are refused")


class BCEWithLogitsLoss(Loss[Array]):
    """Binary cross-entropy on logits ``z`` (a sigmoid and the log-loss fused), as
    PyTorch's ``binary_cross_entropy_with_logits``, on any shape.

    Per element, with target ``t`` (usually 0 or 1, any real value accepted) and the
    positive-class weight ``p`` (``pos_weight`` for the element's last-axis index, 1
    without)::

        ℓ = −[p · t · log σ(z) + (1 − t) · log(1 − σ(z))]
          = (1 − t) · softplus(z) + p · t · softplus(−z)
        dℓ/dz = (1 − t) · σ(z) − p · t · σ(−z)

    with ``softplus(±z) = max(±z, 0) + log(1 + e^(−|z|))`` and both sigmoids from the
    same ``e^(−|z|)`` (no ``1 − σ``, which would round tiny values to 0). These forms never
    exponentiate a positive number and never take log(0), so they are finite for any
    finite logit (|z| = 1e4 included) and keep tiny values (σ(−700)). ``"mean"``
    divides by ``z.size``.

    Cache: the residual ``dℓ/dz``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    pos_weight : array_like of shape ``(C,)``, optional
        Weights of the positive targets per class, broadcast over the last axis of
        ``pred`` (PyTorch's broadcast of a ``(C,)`` ``pos_weight``).
    weight : array_like, optional
        Rescales each ``ℓ`` (and ``dℓ/dz``), broadcast to ``pred``'s shape, as PyTorch's.

    Raises
    ------
    ValueError
        As every `Loss`; a ``pos_weight`` that is not a finite, non-negative 1-D
        array, or (from ``forward``) not of length ``pred.shape[-1]``; likewise a
        ``weight`` not broadcasting.
    TypeError
        As every `Loss`.
    """

    def __init__(self, reduction: Reduction = "mean", pos_weight: npt.ArrayLike | None = None,
                 weight: npt.ArrayLike | None = None) -> None:
        super().__init__(reduction)
        self.pos_weight = _class_weights(type(self).__name__, "pos_weight", pos_weight)
        self.weight = check_weight(type(self).__name__, "weight", weight)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        z, t = as_prediction_and_target(self, pred, target)
        xp = backend.namespace(z)
        e = xp.exp(-xp.abs(z))  # e^(−|z|) in (0, 1]: no positive number exponentiated
        log1p_e = xp.log1p(e)
        e1 = e + 1
        # σ(z) and σ(−z) from the same e (1/(1 + e) on one side of 0, e/(1 + e) on the
        # other), so neither is 1 − (the other): tiny values survive.
        positive = z >= 0
        sigmoid, sigmoid_neg = xp.where(positive, 1.0, e), xp.where(positive, e, 1.0)
        sigmoid /= e1
        sigmoid_neg /= e1
        pos_weight = _weights_for(self, "pos_weight", self.pos_weight, z)
        pt = t if pos_weight is None else pos_weight * t  # p · t, p broadcast over the last axis
        not_t = 1 - t
        # ℓ = (1 − t) · softplus(z) + p·t · softplus(−z), softplus(±z) = max(±z, 0) + log1p(e)
        losses = xp.maximum(z, 0.0)
        losses += log1p_e
        losses *= not_t
        losses += pt * (xp.maximum(-z, 0.0) + log1p_e)
        residual = not_t * sigmoid  # dℓ/dz = (1 − t) · σ(z) − p·t · σ(−z)
        residual -= pt * sigmoid_neg
        weight = weight_on(self, "weight", self.weight, z)
        if weight is not None:  # ℓ ← w · ℓ, dℓ/dz ← w · dℓ/dz
            losses, residual = losses * weight, residual * weight
        self._cache = residual
        return self.reduce(losses)

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dz = dℓ/dz · upstream``."""
        residual = self._saved()
        return residual * self.upstream(grad, residual)

    def extra_repr(self) -> str:
        return weight_repr("pos_weight", self.pos_weight) + weight_repr("weight", self.weight)


class _ClassTargets(NamedTuple):
    """Integer class targets, resolved: which count and with what weight."""

    safe: Array
    """The indices with ignored positions replaced by 0, shape ``(...)``."""
    weight: Array
    """``w[y]`` at kept positions, 0 at ignored ones, in the prediction's dtype."""
    kept: Array
    """1 at kept positions, 0 at ignored ones, in the prediction's dtype."""


class _ClassIndexLoss(Loss[Any]):
    """Shared by `CrossEntropyLoss` and `NLLLoss`: ``weight``, ``ignore_index`` and the
    checking of class-index targets against predictions of shape ``(..., C)``."""

    def __init__(self, reduction: Reduction = "mean", weight: npt.ArrayLike | None = None,
                 ignore_index: int = -100) -> None:
        super().__init__(reduction)
        self.weight = _class_weights(type(self).__name__, "weight", weight)
        if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(
                ignore_index, (int, np.integer)):
            raise ValueError(f"{type(self).__name__}: ignore_index must be an int, got "
                             f"{ignore_index!r}")
        self.ignore_index = int(ignore_index)

    def check_pred(self, pred: npt.ArrayLike) -> Array:
        z = as_prediction(self, pred)
        if z.ndim == 0:
            raise ValueError(f"{self!r} expected a prediction of shape (..., C) (classes "
                             f"last), got a scalar")
        return z

    def class_targets(self, t: Array, z: Array) -> _ClassTargets:
        """Class indices ``t`` (shape ``z.shape[:-1]``, checked) resolved for ``z``."""
        classes = z.shape[-1]
        if backend.numpy_dtype(t.dtype).kind not in "iu":
            raise TypeError(f"{self!r} expected integer class indices, got dtype {t.dtype}"
                            f"{self.float_hint(z)}")
        xp = backend.namespace(t)
        kept_mask = t != self.ignore_index
        safe = xp.where(kept_mask, t, 0)  # ignored positions pick class 0, weighted 0
        low, high = backend.index_bounds(safe)
        kept = backend.cast(kept_mask, z.dtype)
        if low < 0 or high >= classes:
            raise ValueError(
                f"{self!r} expected class indices in [0, {classes}) for {classes} classes "
                f"(or ignore_index={self.ignore_index}), got {low if low < 0 else high}"
            )
        weight = _weights_for(self, "weight", self.weight, z)
        if weight is None:
            return _ClassTargets(safe, kept, kept)
        picked = xp.reshape(xp.take(weight, xp.reshape(safe, (-1,)), axis=0), tuple(safe.shape))
        return _ClassTargets(safe, picked * kept, kept)

    def float_hint(self, z: Array) -> str:
        """Appended to the float-target error: what a probability target would look like."""
        return ""

    def shape_error(self, t: Array, z: Array) -> ValueError:
        return ValueError(f"{self!r} expected target of shape {tuple(z.shape[:-1])} (class "
                          f"indices, classes last) for a prediction of shape {tuple(z.shape)}, "
                          f"got {tuple(t.shape)}")

    def extra_repr(self) -> str:
        parts = "" if self.weight is None else f", weight={self.weight.tolist()}"
        return parts + ("" if self.ignore_index == -100 else f", ignore_index={self.ignore_index}")


class NLLLoss(_ClassIndexLoss):
    """Negative log-likelihood of log-probabilities ``x`` (e.g. `LogSoftmax` outputs), as
    PyTorch's ``nll_loss`` -- but with the class axis LAST: ``x`` of shape ``(..., C)``,
    class indices ``y`` of shape ``(...)`` (PyTorch: ``(N, C, ...)`` and ``(N, ...)``).

    Per position, with class weights ``w`` (all 1 without ``weight``)::

        ℓ = −w_y · x_y           dℓ/dx_c = −w_y · [c = y]

    and ``ℓ = 0`` where ``y == ignore_index``. ``"mean"`` divides by ``Σ w_y`` over the
    kept positions (PyTorch's weighted mean), NaN when every position is ignored.

    Cache: the resolved targets and ``x``'s shape and dtype.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    weight : array_like of shape ``(C,)``, optional
        A weight per class.
    ignore_index : int, default -100
        Targets equal to it count for nothing (padding positions, say).

    Raises
    ------
    ValueError
        A target shape other than ``x.shape[:-1]``; an index outside ``[0, C)`` that is
        not ``ignore_index``; a ``weight`` that is not 1-D, finite, >= 0, of length ``C``.
    TypeError
        Non-real ``x``; class indices of a non-integer dtype.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    >>> loss = mg.NLLLoss(weight=[1.0, 2.0, 3.0])
    >>> round(loss(logp, np.array([0, 2])), 4)  # (−log 0.5 − 3 log 0.8) / (1 + 3)
    0.3406
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = self.check_pred(pred)
        t = as_target_array(self, target, x)
        if tuple(t.shape) != tuple(x.shape[:-1]):
            raise self.shape_error(t, x)
        targets = self.class_targets(t, x)
        xp = backend.namespace(x)
        picked = xp.take_along_axis(x, targets.safe[..., None], axis=-1)[..., 0]
        self._cache = (targets, x)
        return self.reduce(-targets.weight * picked, backend.wide_sum(targets.weight))

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dx`` is ``−w_y · upstream`` at the target class, 0 elsewhere."""
        targets, x = self._saved()
        coefficient = -targets.weight * self.upstream(grad, x)  # −w_y · upstream
        out: Array = backend.scatter_last(targets.safe, coefficient, x)  # at c = y, 0 elsewhere
        return out


class CrossEntropyLoss(_ClassIndexLoss):
    """Softmax cross-entropy on logits ``z`` of shape ``(..., C)``, as PyTorch's
    ``cross_entropy`` -- but with the class axis LAST (PyTorch: ``(N, C, ...)``).

    Targets are either integer class indices ``y`` of shape ``(...)`` or class
    probabilities ``t`` of shape ``(..., C)``. With ``log p = z − lse``, the stable
    log-sum-exp ``lse = m + log Σ_c e^(z_c − m)`` (``m = max_c z_c``, so every
    exponential lies in (0, 1] and no log(0) is taken), the class weights ``w`` (all 1
    without ``weight``) and the label smoothing ``ε``, each position's loss is
    ``ℓ = −Σ_c a_c · log p_c`` with coefficients

        a_c = (1 − ε) · w_y · [c = y] + ε/C · w_c           (class indices)
        a_c = w_c · ((1 − ε) · t_c + ε/C)                  (probabilities)

    and ``dℓ/dz = softmax(z) · Σ_c a_c − a``. With class indices, ``ℓ = 0`` where
    ``y == ignore_index`` and ``"mean"`` divides by ``Σ w_y`` over the kept positions
    (PyTorch's weighted mean; both the likelihood and the smoothing term), NaN when
    every position is ignored. With probabilities ``"mean"`` divides by the number of
    positions (``z.size / C``), weights or not, and ``ignore_index`` must stay
    negative, as PyTorch.

    Logits may be −inf (a masked class: probability 0), with PyTorch's values: a
    finite loss unless the target's own logit is −inf (then ``inf``). A +inf or NaN
    logit, or a position whose logits are all −inf, has no softmax: PyTorch returns
    NaN there, this raises.

    Cache: ``softmax(z)`` and the coefficients.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    weight : array_like of shape ``(C,)``, optional
    ignore_index : int, default -100
    label_smoothing : float in [0, 1], default 0.0

    Raises
    ------
    ValueError
        Scalar or empty logits; a target shape other than ``z.shape[:-1]`` or
        ``z.shape``; class indices outside ``[0, C)`` that are not ``ignore_index``; a
        ``weight`` that is not 1-D, finite, >= 0, of length ``C``; ``label_smoothing``
        outside [0, 1]; probability targets with ``ignore_index >= 0``; a +inf or NaN
        logit, or a position of all −inf logits (naming the position).
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

    def __init__(self, reduction: Reduction = "mean", weight: npt.ArrayLike | None = None,
                 ignore_index: int = -100, label_smoothing: float = 0.0) -> None:
        super().__init__(reduction, weight, ignore_index)
        self.label_smoothing = check_number(type(self).__name__, "label_smoothing",
                                            label_smoothing, "a number in [0, 1]",
                                            lambda v: 0.0 <= v <= 1.0)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        z = self.check_pred(pred)
        t = as_target_array(self, target, z)
        xp = backend.namespace(z)
        exps, sums, log_p = _softmax_parts(self, z, xp)
        smoothing, classes = self.label_smoothing, z.shape[-1]
        weight = _weights_for(self, "weight", self.weight, z)
        shape, t_shape = tuple(z.shape), tuple(t.shape)
        if t_shape == shape:  # probabilities
            if self.ignore_index >= 0:
                raise ValueError(f"{self!r} does not support ignore_index >= 0 with "
                                 "probability targets (as PyTorch)")
            a = as_target(self, t, z)
            if smoothing:
                a = a * (1 - smoothing) + smoothing / classes
            if weight is not None:
                a = a * weight
            denominator = math.prod(shape) / classes
            self._cache = (exps / sums, a, None)
        elif t_shape == shape[:-1]:
            targets = self.class_targets(t, z)
            a_y = targets.weight * (1 - smoothing)  # the one-hot part's coefficient
            uniform = None  # ε/C · w_c · kept, the smoothing part, shape (..., C)
            if smoothing:
                w = weight
                if w is None:
                    w = xp.ones(classes, dtype=z.dtype, device=backend.device(z))
                uniform = (smoothing / classes) * targets.kept[..., None] * w
            denominator = backend.wide_sum(targets.weight)
            self._cache = (exps / sums, (targets.safe, a_y), uniform)
            losses = -a_y * xp.take_along_axis(log_p, targets.safe[..., None], axis=-1)[..., 0]
            if uniform is not None:
                losses -= xp.sum(uniform * log_p, axis=-1)
            return self.reduce(losses, denominator)
        else:
            raise ValueError(
                f"{self!r} expected target of shape {shape[:-1]} (class indices) or "
                f"{shape} (probabilities) for logits of shape {shape} (classes last), "
                f"got {t_shape}"
            )
        return self.reduce(-xp.sum(a * log_p, axis=-1), denominator)

    def float_hint(self, z: Array) -> str:
        return f" (probability targets have shape {tuple(z.shape)}, classes last)"

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dz = (softmax(z) · Σ_c a_c − a) · upstream``."""
        softmax, coefficients, uniform = self._saved()
        xp = backend.namespace(softmax)
        if isinstance(coefficients, tuple):  # class indices: a = a_y · onehot(y) + uniform
            safe, a_y = coefficients
            total = a_y if uniform is None else a_y + xp.sum(uniform, axis=-1)
            out: Array = softmax * total[..., None]
            out = backend.subtract_at_last(out, safe, a_y)  # − a_y at the target class
            if uniform is not None:
                out -= uniform
        else:
            out = softmax * xp.sum(coefficients, axis=-1, keepdims=True)
            out -= coefficients
        up = self.upstream(grad, softmax)
        out *= up if isinstance(up, float) else up[..., None]
        return out

    def extra_repr(self) -> str:
        smoothing = "" if not self.label_smoothing else f", label_smoothing={self.label_smoothing}"
        return super().extra_repr() + smoothing
