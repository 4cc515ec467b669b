"""Margin losses, PyTorch-exact: `MarginRankingLoss` (of two predictions: a
`MultiInputLoss`), `HingeEmbeddingLoss`, `SoftMarginLoss`, `MultiLabelSoftMarginLoss`
and `MultiMarginLoss` (these two with the class axis LAST, as minigrad's classification
losses -- and as PyTorch's own for these two, which take ``(N, C)``).

A hinge ``max(0, m)`` passes the gradient where ``m >= 0`` (PyTorch's ``clamp_min``), but
`MultiMarginLoss`'s only where ``m > 0`` (PyTorch's kernel): the subgradients PyTorch
picks at the kink, so gradients agree there too.
"""

from __future__ import annotations

import math

import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_number
from minigrad.losses.loss import Reduction, as_prediction, as_target
from minigrad.losses.multi_input import Inputs, MultiInputLoss
from minigrad.losses.shared import (
    LocalGradientLoss,
    chain,
    check_signs,
    check_weight,
    class_indices,
    indicator,
    logistic,
    target_of_shape,
    weight_on,
    weight_repr,
)


def _margin(owner: str, value: object) -> float:
    return check_number(owner, "margin", value, "a finite number", math.isfinite)


class MarginRankingLoss(MultiInputLoss[tuple[Array, Array]]):
    """Ranking two predictions, as PyTorch's ``margin_ranking_loss(x1, x2, y)``: ``y = 1``
    says ``x1`` should rank higher, ``y = −1`` that ``x2`` should, by ``margin``::

        ℓ = max(0, −y · (x1 − x2) + margin)
        dℓ/dx1 = −y · [ℓ's argument >= 0],   dℓ/dx2 = −dℓ/dx1

    Inputs (a `MultiInputLoss`): ``pred = (x1, x2)`` and ``y`` of one shape (any; any
    real ``y``, as PyTorch), ``backward_inputs()`` gives ``(dL/dx1, dL/dx2)``; or ``pred``
    one array ``(..., 2)`` stacking them on the last axis -- the scores a model gives two
    items, the form ``fit`` uses. ``"mean"`` divides by ``x1.size``.

    Cache: ``y`` and the active mask.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    margin : float, default 0.0

    Raises
    ------
    ValueError
        As every `MultiInputLoss`; inputs or target of different shapes; a ``margin``
        that is not a finite number.
    TypeError
        As every `MultiInputLoss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.MarginRankingLoss(reduction="none", margin=0.5)
    >>> loss((np.array([2.0, 0.0]), np.array([1.0, 1.0])), np.array([1.0, 1.0]))
    array([0. , 1.5])
    >>> loss.backward_inputs()
    (array([ 0., -1.]), array([0., 1.]))
    """

    inputs = ("input1", "input2")
    stack_axis = -1

    def __init__(self, reduction: Reduction = "mean", margin: float = 0.0) -> None:
        super().__init__(reduction)
        self.margin = _margin(type(self).__name__, margin)

    def forward(self, pred: Inputs,
                target: npt.ArrayLike) -> float | Array:
        x1, x2 = inputs = self.split(pred)
        self.same_shapes(inputs)
        y = target_of_shape(self, target, x1, tuple(x1.shape), "the shape of each input")
        argument = self.margin - y * (x1 - x2)
        self._cache = (y, argument >= 0)
        return self.reduce(backend.namespace(x1).maximum(argument, 0.0))

    def backward_inputs(self, grad: npt.ArrayLike | None = None) -> tuple[Array, Array]:
        """``dL/dx1 = −y · [active] · upstream`` and ``dL/dx2 = −dL/dx1``."""
        y, active = self._saved()
        xp, up = backend.namespace(y), self.upstream(grad, y)
        return chain(xp.where(active, -y, 0.0), up), chain(xp.where(active, y, 0.0), up)

    def extra_repr(self) -> str:
        return f", margin={self.margin}" if self.margin else ""


class HingeEmbeddingLoss(LocalGradientLoss):
    """Hinge embedding loss, as PyTorch's ``hinge_embedding_loss``: ``x`` is usually a
    distance, small for similar pairs (``y = 1``) and pushed beyond ``margin`` for
    dissimilar ones (``y = −1``); on any shape::

        ℓ = x                    dℓ/dx = 1                         (y = 1)
        ℓ = max(0, margin − x)   dℓ/dx = −[margin − x >= 0]         (y = −1)

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    margin : float, default 1.0

    Raises
    ------
    ValueError
        As every `Loss`; a target other than 1 or −1 (PyTorch would add both branches);
        a ``margin`` that is not a finite number.
    TypeError
        As every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.HingeEmbeddingLoss(reduction="none")(np.array([0.3, 0.3, 2.0]),
    ...                                         np.array([1, -1, -1]))
    array([0.3, 0.7, 0. ])
    """

    def __init__(self, reduction: Reduction = "mean", margin: float = 1.0) -> None:
        super().__init__(reduction)
        self.margin = _margin(type(self).__name__, margin)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = as_prediction(self, pred)
        y = as_target(self, target, x)
        check_signs(self, y)
        xp = backend.namespace(x)
        similar, gap = y == 1, self.margin - x
        losses = xp.where(similar, x, xp.maximum(gap, 0.0))
        self._cache = indicator(similar, x) - indicator(~similar & (gap >= 0), x)
        return self.reduce(losses)

    def extra_repr(self) -> str:
        return f", margin={self.margin}" if self.margin != 1.0 else ""


class SoftMarginLoss(LocalGradientLoss):
    """Two-class logistic loss, as PyTorch's ``soft_margin_loss``, on any shape, targets
    ``y`` usually 1 or −1 (any real accepted, as PyTorch)::

        ℓ = log(1 + e^(−y·x)) = softplus(−y·x)        dℓ/dx = −y · σ(−y·x)

    in the stable forms of `minigrad.losses.shared.logistic`: finite for any finite
    ``x`` (PyTorch's overflows to inf past ``−y·x ≈ 710``). ``"mean"`` divides by
    ``x.size``.

    Cache: ``dℓ/dx``. Raises: as every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.SoftMarginLoss(reduction="none")
    >>> loss(np.array([0.0, 800.0]), np.array([1.0, -1.0])).round(4).tolist()  # no overflow
    [0.6931, 800.0]
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = as_prediction(self, pred)
        y = as_target(self, target, x)
        softplus, _, sigmoid, _ = logistic(-y * x)
        self._cache = -y * sigmoid
        return self.reduce(softplus)


class MultiLabelSoftMarginLoss(LocalGradientLoss):
    """Multi-label one-versus-all logistic loss, as PyTorch's
    ``multilabel_soft_margin_loss``: logits ``x`` of shape ``(..., C)`` (classes last),
    targets ``t`` (usually 0 or 1) of that shape, the class weights ``w`` (1 without)::

        ℓ = (1/C) · Σ_c w_c · [t_c · softplus(−x_c) + (1 − t_c) · softplus(x_c)]
        dℓ/dx_c = (w_c / C) · [(1 − t_c) · σ(x_c) − t_c · σ(−x_c)]

    i.e. `BCEWithLogitsLoss` averaged over the classes of each row. One loss per row:
    ``"none"`` returns shape ``(...)``, ``"mean"`` divides by the number of rows.
    Stable as `SoftMarginLoss`.

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    weight : array_like, optional
        Weights broadcast to ``x``'s shape; usually ``(C,)``, one per class.

    Raises
    ------
    ValueError
        As every `Loss`; a scalar ``x``; a ``weight`` that is not finite or does not
        broadcast to ``x``'s shape.
    TypeError
        As every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.MultiLabelSoftMarginLoss(reduction="none")
    >>> loss(np.array([[0.0, 0.0], [40.0, -40.0]]), np.array([[1, 0], [1, 0]])).round(4)
    array([0.6931, 0.    ])
    """

    def __init__(self, reduction: Reduction = "mean",
                 weight: npt.ArrayLike | None = None) -> None:
        super().__init__(reduction)
        self.weight = check_weight(type(self).__name__, "weight", weight)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = _with_classes(self, pred)
        t = as_target(self, target, x)
        softplus, softplus_neg, sigmoid, sigmoid_neg = logistic(x)
        terms = t * softplus_neg + (1 - t) * softplus
        local = (1 - t) * sigmoid - t * sigmoid_neg
        w = weight_on(self, "weight", self.weight, x)
        if w is not None:
            terms, local = terms * w, local * w
        classes = x.shape[-1]
        self._cache = local / classes
        return self.reduce(backend.namespace(x).sum(terms, axis=-1) / classes)

    def extra_repr(self) -> str:
        return weight_repr("weight", self.weight)


def _with_classes(loss: LocalGradientLoss, pred: npt.ArrayLike) -> Array:
    """``pred`` as a prediction with a class axis (last): not a scalar."""
    x = as_prediction(loss, pred)
    if x.ndim == 0:
        raise ValueError(f"{loss!r} expected a prediction of shape (..., C) (classes last), "
                         "got a scalar")
    return x


class MultiMarginLoss(LocalGradientLoss):
    """Multi-class hinge loss, as PyTorch's ``multi_margin_loss``: scores ``x`` of shape
    ``(..., C)`` (classes last), integer class indices ``y`` of shape ``(...)``. Per row,
    with the margins ``m_i = margin − x_y + x_i`` and the class weights ``w`` (1
    without)::

        ℓ = (w_y / C) · Σ_{i ≠ y} max(0, m_i)^p
        dℓ/dx_i = (w_y / C) · p · m_i^(p−1) · [m_i > 0]     (i ≠ y)
        dℓ/dx_y = −Σ_{i ≠ y} dℓ/dx_i

    ``"none"`` returns shape ``(...)``; ``"mean"`` divides by the number of rows (not by
    the weights, as PyTorch).

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    p : 1 or 2, default 1
    margin : float, default 1.0
    weight : array_like of shape ``(C,)``, optional
        A weight per class, applied by the target's class.

    Raises
    ------
    ValueError
        As every `Loss`; a target shape other than ``x.shape[:-1]``; an index outside
        ``[0, C)``; ``p`` other than 1 or 2; a ``margin`` that is not a finite number; a
        ``weight`` that is not 1-D, finite, of length ``C``.
    TypeError
        As every `Loss`; class indices of a non-integer dtype.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.MultiMarginLoss(reduction="none")
    >>> loss(np.array([[3.0, 2.5, 0.0], [0.0, 1.0, 0.0]]), np.array([0, 0]))  # /C = 3
    array([0.16666667, 1.        ])
    """

    def __init__(self, reduction: Reduction = "mean", p: int = 1, margin: float = 1.0,
                 weight: npt.ArrayLike | None = None) -> None:
        super().__init__(reduction)
        if isinstance(p, bool) or p not in (1, 2):
            raise ValueError(f"{type(self).__name__}: p must be 1 or 2, got {p!r}")
        self.p = int(p)
        self.margin = _margin(type(self).__name__, margin)
        self.weight = check_weight(type(self).__name__, "weight", weight, one_dimensional=True)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = _with_classes(self, pred)
        y = class_indices(self, target, x)
        xp = backend.namespace(x)
        classes = x.shape[-1]
        target_class = xp.arange(classes, device=backend.device(x)) == y[..., None]
        x_y = xp.sum(xp.where(target_class, x, 0.0), axis=-1, keepdims=True)  # exact: one term
        margins = self.margin - x_y + x
        active = (margins > 0) & ~target_class
        hinge = xp.where(active, margins, 0.0)
        terms, slopes = (hinge, indicator(active, x)) if self.p == 1 else (
            hinge * hinge, 2 * hinge)
        w = weight_on(self, "weight", self.weight, x, classes=True)
        scale = (1 / classes if w is None  # w_y / C, per row
                 else xp.sum(xp.where(target_class, w, 0.0), axis=-1, keepdims=True) / classes)
        local = slopes * scale
        self._cache = local - xp.where(target_class, xp.sum(local, axis=-1, keepdims=True), 0.0)
        return self.reduce(xp.sum(terms * scale, axis=-1))

    def extra_repr(self) -> str:
        return ((f", p={self.p}" if self.p != 1 else "")
                + (f", margin={self.margin}" if self.margin != 1.0 else "")
                + weight_repr("weight", self.weight))
