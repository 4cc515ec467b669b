"""Losses on embedding vectors (features LAST), PyTorch-exact, both `MultiInputLoss`es:
`CosineEmbeddingLoss` of pairs and `TripletMarginLoss` of (anchor, positive, negative)
triplets. Their inputs have shape ``(..., D)`` -- ``(N, D)`` or ``(D,)`` as PyTorch's,
or more batch axes -- and give one loss per vector, shape ``(...)``; stacked, they are
``(..., 2, D)`` and ``(..., 3, D)`` (`MultiInputLoss.stack_axis` -2).

Norms are taken in scaled forms (`minigrad.losses.shared.p_norm`, ``l2_norm_with``), so
no square or power overflows for finite inputs.
"""

from __future__ import annotations

import math

import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_non_negative, check_number
from minigrad.losses.loss import Reduction
from minigrad.losses.multi_input import Inputs, MultiInputLoss
from minigrad.losses.shared import (
    EPSILON,
    chain,
    check_signs,
    indicator,
    l2_norm_with,
    p_norm,
    target_of_shape,
)


class _VectorLoss(MultiInputLoss[tuple[Array, ...]]):
    """Inputs of one shape ``(..., D)``, features last, stacked on axis -2; the cache is
    ``dℓ/d(input)`` for each input, so `backward_inputs` is the chain rule alone."""

    stack_axis = -2

    def vectors(self, pred: Inputs) -> tuple[Array, ...]:
        arrays = self.split(pred)
        self.same_shapes(arrays)
        if arrays[0].ndim == 0:
            raise ValueError(f"{self!r} expected vectors of shape (..., D) (features last), "
                             "got scalars")
        return arrays

    def backward_inputs(self, grad: npt.ArrayLike | None = None) -> tuple[Array, ...]:
        """``dL/d(input) = dℓ/d(input) · upstream`` for each input."""
        locals_ = self._saved()
        up = self.upstream(grad, locals_[0])
        return tuple(chain(local, up) for local in locals_)


class CosineEmbeddingLoss(_VectorLoss):
    """Cosine embedding loss, as PyTorch's ``cosine_embedding_loss(x1, x2, y)``: pulls
    the pairs with ``y = 1`` to cosine similarity 1 and pushes those with ``y = −1`` below
    ``margin``. With ``n_i = √(Σ x_i² + ε)`` (ε = 1e-12, PyTorch's, keeping a zero vector
    finite) and ``cos = Σ x1·x2 / (n1 · n2)``::

        ℓ = 1 − cos                   dℓ/dcos = −1                      (y = 1)
        ℓ = max(0, cos − margin)      dℓ/dcos = [cos − margin >= 0]     (y = −1)
        dcos/dx1 = (x2/n2 − cos · x1/n1) / n1,   dcos/dx2 likewise with 1 and 2 swapped

    Inputs (a `MultiInputLoss`): ``pred = (x1, x2)`` of one shape ``(..., D)``, ``y`` of
    shape ``(...)``, ``backward_inputs()`` gives ``(dL/dx1, dL/dx2)``; or ``pred`` one
    array ``(..., 2, D)``, the form ``fit`` uses (a siamese model's output). ``"mean"``
    divides by the number of pairs.

    Cache: ``dℓ/dx1`` and ``dℓ/dx2``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    margin : float, default 0.0
        Meaningful in [-1, 1] (0 to 0.5 suggested, as PyTorch).

    Raises
    ------
    ValueError
        As every `MultiInputLoss`; scalar or differently shaped inputs; a target of
        another shape than ``x1.shape[:-1]`` or other than 1 or −1 (PyTorch would count
        it 0); a ``margin`` that is not a finite number.
    TypeError
        As every `MultiInputLoss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> x1, x2 = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [2.0, 2.0]])
    >>> mg.CosineEmbeddingLoss(reduction="none")((x1, x2), np.array([1, -1])).round(6)
    array([1., 1.])
    """

    inputs = ("input1", "input2")

    def __init__(self, reduction: Reduction = "mean", margin: float = 0.0) -> None:
        super().__init__(reduction)
        self.margin = check_number(type(self).__name__, "margin", margin, "a finite number",
                                   math.isfinite)  # [-1, 1] is meaningful; PyTorch takes any

    def forward(self, pred: Inputs,
                target: npt.ArrayLike) -> float | Array:
        x1, x2 = self.vectors(pred)
        y = target_of_shape(self, target, x1, tuple(x1.shape[:-1]), "one per pair of vectors")
        check_signs(self, y)
        xp = backend.namespace(x1)
        n1, n2 = l2_norm_with(x1, EPSILON)[..., None], l2_norm_with(x2, EPSILON)[..., None]
        u1, u2 = x1 / n1, x2 / n2  # |u| <= 1: the cosine is Σ u1·u2, no product overflows
        cos = xp.sum(u1 * u2, axis=-1)
        similar, excess = y == 1, cos - self.margin
        losses = xp.where(similar, 1 - cos, xp.maximum(excess, 0.0))
        dcos = (indicator(~similar & (excess >= 0), x1) - indicator(similar, x1))[..., None]
        cos = cos[..., None]
        self._cache = (dcos * (u2 - cos * u1) / n1, dcos * (u1 - cos * u2) / n2)
        return self.reduce(losses)

    def extra_repr(self) -> str:
        return f", margin={self.margin}" if self.margin else ""


class TripletMarginLoss(_VectorLoss):
    """Triplet margin loss, as PyTorch's ``triplet_margin_loss(anchor, positive,
    negative)``: the anchor ``a`` should be nearer the positive ``p`` than the negative
    ``n`` by ``margin``. With PyTorch's distance ``d(x, z) = ‖x − z + eps‖_P`` (P the
    norm's degree ``p``) and, with ``swap``, the negative's distance the smaller of
    ``d(a, n)`` and ``d(p, n)``::

        ℓ = max(0, margin + d(a, p) − d_neg),    d_neg = d(a, n)  or  min(d(a, n), d(p, n))
        dℓ/d(x − z) = ±[ℓ's argument >= 0] · sign(v) · (|v| / d)^(P−1),   v = x − z + eps

    with ``+`` for ``d(a, p)`` and ``−`` for ``d_neg``, whose gradient reaches ``x`` as is
    and ``z`` negated; a tie of ``d(a, n)`` and ``d(p, n)`` shares it half and half
    (PyTorch's ``minimum``). A zero distance has gradient 0.

    Inputs (a `MultiInputLoss`): ``pred = (anchor, positive, negative)`` of one shape
    ``(..., D)`` and no target (``None``); ``backward_inputs()`` gives the three
    gradients. Or ``pred`` one array ``(..., 3, D)``, whose ``backward()`` a model takes;
    ``fit`` always passes a target, so train this loss with the four-line loop of
    docs/training.md. ``"mean"`` divides by the number of triplets.

    Cache: ``dℓ/d(anchor)``, ``dℓ/d(positive)``, ``dℓ/d(negative)``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    margin : float > 0, default 1.0
    p : float >= 1, default 2.0
        The norm's degree.
    eps : float >= 0, default 1e-6
        Added to every difference, as PyTorch's ``pairwise_distance``.
    swap : bool, default False
        The distance swap of Balntas et al. (2016).

    Raises
    ------
    ValueError
        As every `MultiInputLoss`; scalar or differently shaped inputs; a target that is
        not None; a ``margin`` not > 0, ``p`` not >= 1 (both finite), or ``eps`` not a
        finite number >= 0.
    TypeError
        As every `MultiInputLoss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> a, p, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[0.0, 1.0]])
    >>> loss = mg.TripletMarginLoss(eps=0.0)
    >>> loss((a, p, n))  # 1 + 5 − 1
    5.0
    >>> [g.round(6).tolist() for g in loss.backward_inputs()]
    [[[-0.6, 0.2]], [[0.6, 0.8]], [[0.0, -1.0]]]
    """

    inputs = ("anchor", "positive", "negative")

    def __init__(self, reduction: Reduction = "mean", margin: float = 1.0, p: float = 2.0,
                 eps: float = 1e-6, swap: bool = False) -> None:
        super().__init__(reduction)
        owner = type(self).__name__
        self.margin = check_number(owner, "margin", margin, "a finite number > 0",
                                   lambda v: math.isfinite(v) and v > 0)
        self.p = check_number(owner, "p", p, "a finite number >= 1",
                              lambda v: math.isfinite(v) and v >= 1)
        self.eps = check_non_negative(owner, "eps", eps)
        self.swap = bool(swap)

    def forward(self, pred: Inputs,
                target: object = None) -> float | Array:
        if target is not None:
            raise ValueError(f"{self!r} takes no target (anchor, positive and negative are "
                             f"all predictions), got {type(target).__name__}")
        a, positive, negative = self.vectors(pred)
        xp = backend.namespace(a)
        d_ap, g_ap = p_norm(a - positive + self.eps, self.p)
        d_an, g_an = p_norm(a - negative + self.eps, self.p)
        share: float | Array = 1.0  # of dℓ/dd_neg that goes to d(a, n); the rest to d(p, n)
        d_neg = d_an
        if self.swap:
            d_pn, g_pn = p_norm(positive - negative + self.eps, self.p)
            d_neg = xp.minimum(d_an, d_pn)
            share = (indicator(d_an < d_pn, a) + 0.5 * indicator(d_an == d_pn, a))[..., None]
        argument = self.margin + d_ap - d_neg
        active = indicator(argument >= 0, a)[..., None]
        to_an = active * share * g_an  # dℓ/dd(a, n) = −active · share, times ∂d/∂v
        local_a, local_p, local_n = active * g_ap - to_an, -active * g_ap, to_an
        if self.swap:
            to_pn = active * (1 - share) * g_pn  # dℓ/dd(p, n) = −active · (1 − share)
            local_p, local_n = local_p - to_pn, local_n + to_pn
        self._cache = (local_a, local_p, local_n)
        return self.reduce(xp.maximum(argument, 0.0))

    def __call__(self, pred: Inputs,
                 target: object = None) -> float | Array:
        return self.forward(pred, target)

    def extra_repr(self) -> str:
        return ((f", margin={self.margin}" if self.margin != 1.0 else "")
                + (f", p={self.p}" if self.p != 2.0 else "")
                + (f", eps={self.eps}" if self.eps != 1e-6 else "")
                + (", swap=True" if self.swap else ""))
