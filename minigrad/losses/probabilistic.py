"""Likelihood losses, PyTorch-exact: `BCELoss` (on probabilities), `KLDivLoss`,
`PoissonNLLLoss` and `GaussianNLLLoss` (of a mean and a variance: a `MultiInputLoss`).

Each works on any shape, the target of the prediction's shape (no broadcasting). Values
outside a distribution's domain -- a probability outside [0, 1], a negative rate, count,
variance or target probability -- are refused naming the loss, where PyTorch would
return NaN (or raise, for `BCELoss` and `GaussianNLLLoss`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_non_negative, check_positive
from minigrad.losses.loss import Reduction, as_prediction, as_target
from minigrad.losses.multi_input import Inputs, MultiInputLoss
from minigrad.losses.shared import (
    EPSILON,
    LocalGradientLoss,
    check_range,
    check_weight,
    target_of_shape,
    weight_on,
    weight_repr,
)

LOG_FLOOR = -100.0
"""PyTorch's floor of ``log p`` in `BCELoss`: a probability of exactly 0 or 1 costs 100."""


def _floored_logs(x: Array) -> tuple[Array, Array]:
    """``max(log x, −100)`` and ``max(log(1 − x), −100)`` for ``x`` in [0, 1], the latter
    as ``log1p(−x)`` (as PyTorch: exact for tiny ``x``), taking no log(0), which NumPy
    would warn about."""
    xp = backend.namespace(x)
    some, not_all = x > 0, x < 1
    log_x = xp.log(xp.where(some, x, 1.0))
    log_not_x = xp.log1p(-xp.where(not_all, x, 0.0))
    return (xp.where(some, xp.maximum(log_x, LOG_FLOOR), LOG_FLOOR),
            xp.where(not_all, xp.maximum(log_not_x, LOG_FLOOR), LOG_FLOOR))


class BCELoss(LocalGradientLoss):
    """Binary cross-entropy of probabilities ``x`` in [0, 1] (e.g. `Sigmoid` outputs), as
    PyTorch's ``binary_cross_entropy``, on any shape. Per element, with target ``t`` and
    the rescaling ``w`` (``weight``, broadcast; 1 without)::

        ℓ = −w · [t · max(log x, −100) + (1 − t) · max(log(1 − x), −100)]
        dℓ/dx = w · (x − t) / max(x · (1 − x), 1e-12)

    The floors are PyTorch's: a confident wrong answer (``x`` = 0 or 1) costs 100, not
    infinity, and its gradient is ±1e12, not a division by zero. Inside them the gradient
    is the exact derivative; where ``x (1 − x) < 1e-12`` it is PyTorch's floored one.
    Prefer `BCEWithLogitsLoss` on logits: it needs no floors. ``"mean"`` divides by
    ``x.size``.

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    weight : array_like, optional
        A rescaling weight broadcast to ``x``'s shape (e.g. ``(C,)`` per last-axis
        entry).

    Raises
    ------
    ValueError
        As every `Loss`; ``x`` outside [0, 1] (NaN too); a ``weight`` that is not finite
        or does not broadcast to ``x``'s shape.
    TypeError
        As every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.BCELoss(reduction="none")
    >>> loss(np.array([0.9, 0.2, 0.0]), np.array([1.0, 1.0, 1.0])).round(4)
    array([  0.1054,   1.6094, 100.    ])
    """

    def __init__(self, reduction: Reduction = "mean",
                 weight: npt.ArrayLike | None = None) -> None:
        super().__init__(reduction)
        self.weight = check_weight(type(self).__name__, "weight", weight)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = as_prediction(self, pred)
        t = as_target(self, target, x)
        check_range(self, "probabilities (BCEWithLogitsLoss takes logits)", x, 0.0, 1.0)
        xp = backend.namespace(x)
        w = weight_on(self, "weight", self.weight, x)
        log_x, log_not_x = _floored_logs(x)
        losses = -(t * log_x + (1 - t) * log_not_x)
        residual = (x - t) / xp.maximum(x * (1 - x), EPSILON)
        if w is not None:
            losses, residual = losses * w, residual * w
        self._cache = residual
        return self.reduce(losses)

    def extra_repr(self) -> str:
        return weight_repr("weight", self.weight)


KLReduction = Literal["none", "batchmean", "mean", "sum"]


class KLDivLoss(LocalGradientLoss):
    """Kullback-Leibler divergence of the target distribution from the predicted one, as
    PyTorch's ``kl_div``: the prediction ``x`` is log-probabilities (e.g. `LogSoftmax`
    outputs), the target ``t`` probabilities -- or log-probabilities with
    ``log_target=True`` -- of ``x``'s shape. Per element::

        ℓ = t · (log t − x)          dℓ/dx = −t          (ℓ = 0 where t = 0)
        ℓ = e^t · (t − x)            dℓ/dx = −e^t        (log_target=True)

    Reductions: ``"batchmean"`` divides the sum by the batch size ``x.shape[0]`` -- the
    true KL divergence per sample, the one to use; ``"mean"`` (the default, as
    PyTorch's) divides by ``x.size``, i.e. also by the number of classes; ``"sum"`` and
    ``"none"`` as every `Loss`. A 0-d ``x`` has batch size 1.

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "batchmean", "mean" or "sum", default "mean"
    log_target : bool, default False

    Raises
    ------
    ValueError
        As every `Loss`; a negative target probability (``log_target=False``; NaN in
        PyTorch).
    TypeError
        As every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> p, q = np.array([[0.5, 0.5]]), np.array([[0.9, 0.1]])
    >>> round(mg.KLDivLoss(reduction="batchmean")(np.log(q), p), 4)  # KL(p ‖ q)
    0.5108
    """

    reduction: KLReduction  # type: ignore[assignment]  # the base's, and "batchmean"

    def __init__(self, reduction: KLReduction = "mean", log_target: bool = False) -> None:
        if reduction not in ("none", "batchmean", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'none', 'batchmean', "
                             f"'mean' or 'sum', got {reduction!r}")
        super().__init__("sum" if reduction == "batchmean" else reduction)
        self.reduction = reduction
        self.log_target = bool(log_target)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = as_prediction(self, pred)
        t = as_target(self, target, x)
        xp = backend.namespace(x)
        if self.log_target:
            p = xp.exp(t)
            losses = p * (t - x)
        else:
            check_range(self, "target probabilities", t, 0.0)
            p = t
            # t · log t as xlogy: 0 at t = 0, taking no log(0)
            losses = t * (xp.log(xp.where(t > 0, t, 1.0)) - x)
        self._cache = -p
        batch = x.shape[0] if x.ndim else 1
        return self.reduce(losses, batch if self.reduction == "batchmean" else None)

    def upstream(self, grad: npt.ArrayLike | None, like: Array) -> float | Array:
        """As `Loss.upstream`; with ``"batchmean"`` and no ``grad``, ``1 / batch``
        (the base scales only ``"mean"`` by ``1/D`` there)."""
        if grad is None and self.reduction == "batchmean":
            return 1.0 / self._denominator
        return super().upstream(grad, like)

    def extra_repr(self) -> str:
        return ", log_target=True" if self.log_target else ""


class PoissonNLLLoss(LocalGradientLoss):
    """Negative log-likelihood of counts ``t`` under a Poisson distribution, as PyTorch's
    ``poisson_nll_loss``, on any shape. With ``log_input=True`` (default) the prediction
    is the log-rate ``x``, else the rate ``λ`` itself::

        ℓ = e^x − t · x                dℓ/dx = e^x − t                 (log_input)
        ℓ = λ − t · log(λ + eps)        dℓ/dλ = 1 − t / (λ + eps)      (otherwise)

    ``full=True`` adds Stirling's approximation of ``log t!``, ``t log t − t +
    ½ log(2π t)``, for ``t > 1`` (0 otherwise); it does not depend on the prediction.
    ``"mean"`` divides by ``x.size``.

    Cache: ``dℓ/dx``.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    log_input : bool, default True
    full : bool, default False
    eps : float >= 0, default 1e-8
        Keeps ``log(λ + eps)`` finite at ``λ = 0`` (``log_input=False`` only).

    Raises
    ------
    ValueError
        As every `Loss`; a negative count ``t``; a negative rate ``λ``
        (``log_input=False``); an ``eps`` that is not a finite number >= 0.
    TypeError
        As every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.PoissonNLLLoss(reduction="none")
    >>> loss(np.log(np.array([2.0, 0.5])), np.array([2.0, 0.0])).round(4)  # λ − t log λ
    array([0.6137, 0.5   ])
    """

    def __init__(self, reduction: Reduction = "mean", log_input: bool = True,
                 full: bool = False, eps: float = 1e-8) -> None:
        super().__init__(reduction)
        self.log_input, self.full = bool(log_input), bool(full)
        self.eps = check_non_negative(type(self).__name__, "eps", eps)

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        x = as_prediction(self, pred)
        t = as_target(self, target, x)
        check_range(self, "counts", t, 0.0)
        xp = backend.namespace(x)
        if self.log_input:
            rate = xp.exp(x)
            losses = rate - t * x
            self._cache = rate - t
        else:
            check_range(self, "rates (log_input=False)", x, 0.0)
            losses = x - t * xp.log(x + self.eps)
            self._cache = 1 - t / (x + self.eps)
        if self.full:
            big = t > 1
            safe = xp.where(big, t, 1.0)  # the term is 0 for t <= 1: no log(0) taken
            stirling = safe * xp.log(safe) - safe + 0.5 * xp.log(2 * math.pi * safe)
            losses = losses + xp.where(big, stirling, 0.0)
        return self.reduce(losses)

    def extra_repr(self) -> str:
        return ((", log_input=False" if not self.log_input else "")
                + (", full=True" if self.full else "")
                + (f", eps={self.eps}" if self.eps != 1e-8 else ""))


def _sum_to(grad: Array, broadcast: tuple[int, ...], shape: tuple[int, ...]) -> Array:
    """The gradient of an array of ``shape``, seen as ``broadcast`` (its shape with axes
    of size 1 added) and broadcast up to ``grad``'s shape: ``grad`` summed over the axes
    where ``broadcast`` has size 1, reshaped to ``shape``."""
    xp = backend.namespace(grad)
    axes = tuple(i for i, n in enumerate(broadcast) if n == 1 and grad.shape[i] != 1)
    summed = xp.sum(grad, axis=axes, keepdims=True) if axes else grad
    result: Array = xp.reshape(summed, shape)
    return result


class GaussianNLLLoss(MultiInputLoss[tuple[Array, Array, tuple[int, ...]]]):
    """Negative log-likelihood of targets ``t`` under Gaussians of predicted means ``μ``
    and variances ``var``, as PyTorch's ``gaussian_nll_loss(input, target, var)``::

        ℓ = ½ · (log v + (μ − t)² / v)  [+ ½ log 2π with full=True],   v = max(var, eps)
        dℓ/dμ = (μ − t) / v
        dℓ/dvar = ½ · (1/v − (μ − t)² / v²)

    The clamp ``v = max(var, eps)`` is PyTorch's, and as there it is invisible to the
    gradient (taken at ``v`` even below ``eps``).

    Inputs (a `MultiInputLoss`): ``pred = (mean, var)`` with ``mean`` of any shape and
    ``t`` of that shape; ``var`` of ``mean``'s shape (heteroscedastic), of
    ``mean.shape[:-1]`` (one variance per row), of ``mean``'s shape with one axis of
    size 1 (shared along it), or a Python number (one for all) -- the shapes PyTorch
    allows; ``backward_inputs()`` returns ``(dL/dmean, dL/dvar)``, ``dL/dvar`` summed to
    ``var``'s shape. Or ``pred`` one array ``(..., 2)`` stacking mean and variance on the
    last axis, the form ``fit`` uses (a model whose last layer gives both, the variance
    made positive by e.g. `Softplus`). ``"mean"`` divides by ``mean.size``.

    Cache: ``(μ − t) / v``, ``1 / v`` and ``var``'s shape.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    full : bool, default False
    eps : float > 0, default 1e-6

    Raises
    ------
    ValueError
        As every `MultiInputLoss`; a negative variance; a ``var`` or target of another
        shape than those above; an ``eps`` that is not a finite number > 0.
    TypeError
        As every `MultiInputLoss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.GaussianNLLLoss(reduction="sum")
    >>> round(loss((np.array([0.0, 1.0]), np.array([1.0, 4.0])), np.array([1.0, 1.0])), 4)
    1.1931
    >>> dmean, dvar = loss.backward_inputs()
    >>> dmean, dvar
    (array([-1.,  0.]), array([0.   , 0.125]))
    """

    inputs = ("input", "var")
    stack_axis = -1

    def __init__(self, reduction: Reduction = "mean", full: bool = False,
                 eps: float = 1e-6) -> None:
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = check_positive(type(self).__name__, "eps", eps)

    def forward(self, pred: Inputs,
                target: npt.ArrayLike) -> float | Array:
        mean, var = self.split(pred)
        t = target_of_shape(self, target, mean, tuple(mean.shape), "the shape of the mean")
        check_range(self, "variances", var, 0.0)
        xp = backend.namespace(mean)
        var_shape = tuple(var.shape)
        var = xp.reshape(var, self._broadcastable(var_shape, tuple(mean.shape)))
        v = xp.maximum(var, self.eps)
        diff = mean - t
        q = diff / v  # (μ − t)/v: ℓ's square term is q·(μ − t), finite where ℓ is
        losses = 0.5 * (xp.log(v) + q * diff)
        if self.full:
            losses = losses + 0.5 * math.log(2 * math.pi)
        self._cache = (q, 1 / v, var_shape)
        return self.reduce(losses)

    def _broadcastable(self, var: tuple[int, ...], mean: tuple[int, ...]) -> tuple[int, ...]:
        """``var``'s shape as one that broadcasts to ``mean``'s, by PyTorch's rules."""
        if var == mean:
            return var
        if var == mean[:-1]:
            return (*var, 1)  # one variance per row
        if var == ():
            return (1,) * len(mean)  # a number for all
        if len(var) == len(mean) and [b for a, b in zip(mean, var) if a != b] == [1]:
            return var  # shared along the one axis where it has size 1
        raise ValueError(f"{self!r} expected var of shape {mean}, {mean[:-1]}, {mean} with "
                         f"one axis of size 1, or a number, got {var}")

    def backward_inputs(self, grad: npt.ArrayLike | None = None) -> tuple[Array, Array]:
        """``(dL/dμ, dL/dvar)``: ``q · upstream`` and ``½ (1/v − q²) · upstream`` summed
        to ``var``'s shape, with ``q = (μ − t)/v``."""
        q, inverse, var_shape = self._saved()  # 1/v has var's broadcastable shape
        up = self.upstream(grad, q)
        dvar = _sum_to(0.5 * (inverse - q * q) * up, tuple(inverse.shape), var_shape)
        return q * up, dvar

    def extra_repr(self) -> str:
        return (", full=True" if self.full else "") + (f", eps={self.eps}"
                                                       if self.eps != 1e-6 else "")
