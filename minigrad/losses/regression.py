"""The regression losses: `MSELoss`, `L1Loss`, `HuberLoss`, `SmoothL1Loss` -- functions of
the residual ``d = pred − target`` alone, PyTorch-exact."""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_non_negative, check_positive
from minigrad.losses.loss import Loss, Reduction, as_prediction_and_target


class _ResidualLoss(Loss[Array]):
    """A loss of the residual ``d = pred − target`` alone, element by element, on any
    shape (``pred`` and ``target`` of the same shape -- no broadcasting, which would
    silently turn ``(N, 1)`` against ``(N,)`` into an ``(N, N)`` loss).

    Cache: the residual ``d``. ``backward`` is ``dL/dpred = dℓ/dd · upstream``, each
    loss's own.
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        p, t = as_prediction_and_target(self, pred, target)
        diff = p - t  # d = pred − target
        self._cache = diff
        return self.reduce(self.elementwise(diff))  # L = mean or Σ of ℓ(d)

    @abstractmethod
    def elementwise(self, diff: Array) -> Array:
        """``ℓ(d)`` per element."""


class MSELoss(_ResidualLoss):
    """Mean squared error, as PyTorch's ``mse_loss``: ``ℓ = d²`` with ``d = pred − target``,
    ``dℓ/dpred = 2d``; on any shape (``pred`` and ``target`` alike).

    ``"mean"`` divides by ``pred.size``. Cache: the residual ``d``. Raises: as every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.MSELoss()(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    >>> mg.MSELoss(reduction="none")(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    array([1., 9.])
    """

    def forward(self, pred: npt.ArrayLike, target: npt.ArrayLike) -> float | Array:
        if self.reduction == "none":
            return super().forward(pred, target)
        p, t = as_prediction_and_target(self, pred, target)
        diff = p - t  # d = pred − target
        self._cache = diff
        self._loss_shape = shape = tuple(diff.shape)
        self._denominator = float(math.prod(shape))  # N
        return self.scalar(backend.sum_of_squares(diff))  # L = Σ d² / N (or Σ d²): no ℓ array

    def elementwise(self, diff: Array) -> Array:
        squares: Array = backend.namespace(diff).square(diff)  # ℓ = d²
        return squares

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dpred = 2d · upstream`` (``2d / N`` for "mean")."""
        diff = self._saved()
        return diff * (2.0 * self.upstream(grad, diff))  # one pass for a scalar upstream


class L1Loss(_ResidualLoss):
    """Mean absolute error, as PyTorch's ``l1_loss``: ``ℓ = |d|``, ``dℓ/dpred = sign(d)``
    (0 at ``d = 0``, as PyTorch); on any shape.

    Cache: the residual ``d``. Raises: as every `Loss`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> loss = mg.L1Loss(reduction="sum")
    >>> loss(np.array([1.0, -3.0, 2.0]), np.array([0.0, 0.0, 2.0]))
    4.0
    >>> loss.backward()
    array([ 1., -1.,  0.])
    """

    def elementwise(self, diff: Array) -> Array:
        sizes: Array = backend.namespace(diff).abs(diff)  # ℓ = |d|
        return sizes

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dpred = sign(d) · upstream``."""
        diff = self._saved()
        upstream = self.upstream(grad, diff)
        grad_pred: Array = backend.namespace(diff).sign(diff)
        grad_pred *= upstream
        return grad_pred


class HuberLoss(_ResidualLoss):
    """Huber loss, as PyTorch's ``huber_loss``: quadratic near 0, linear beyond ``delta``::

        ℓ = d² / 2                  if |d| < delta       dℓ/dpred = d
        ℓ = delta · (|d| − delta/2)  otherwise            dℓ/dpred = delta · sign(d)

    i.e. the derivative is ``d`` clipped to ``[−delta, delta]``; on any shape.

    Cache: the residual ``d``. Raises: as every `Loss`; ValueError for a ``delta`` that
    is not a finite number > 0.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    delta : float > 0, default 1.0

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.HuberLoss(reduction="none", delta=2.0)(np.array([1.0, -5.0]), np.zeros(2))
    array([0.5, 8. ])
    """

    def __init__(self, reduction: Reduction = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = check_positive(type(self).__name__, "delta", delta)

    def elementwise(self, diff: Array) -> Array:
        xp = backend.namespace(diff)
        size = xp.abs(diff)
        linear = self.delta * (size - 0.5 * self.delta)
        losses: Array = xp.where(size < self.delta, 0.5 * diff * diff, linear)
        return losses

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dpred = clip(d, −delta, delta) · upstream``."""
        diff = self._saved()
        upstream = self.upstream(grad, diff)
        grad_pred: Array = backend.namespace(diff).clip(diff, -self.delta, self.delta)
        grad_pred *= upstream
        return grad_pred

    def extra_repr(self) -> str:
        return "" if self.delta == 1.0 else f", delta={self.delta}"


class SmoothL1Loss(_ResidualLoss):
    """Smooth L1 loss, as PyTorch's ``smooth_l1_loss`` (`HuberLoss` divided by ``beta``)::

        ℓ = d² / (2·beta)   if |d| < beta        dℓ/dpred = d / beta
        ℓ = |d| − beta/2    otherwise            dℓ/dpred = sign(d)

    ``beta = 0`` is `L1Loss` (as PyTorch); on any shape.

    Cache: the residual ``d``. Raises: as every `Loss`; ValueError for a ``beta`` that
    is not a finite number >= 0.

    Parameters
    ----------
    reduction : "none", "mean" or "sum", default "mean"
    beta : float >= 0, default 1.0

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.SmoothL1Loss(reduction="none", beta=2.0)(np.array([1.0, -5.0]), np.zeros(2))
    array([0.25, 4.  ])
    """

    def __init__(self, reduction: Reduction = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = check_non_negative(type(self).__name__, "beta", beta)

    def elementwise(self, diff: Array) -> Array:
        xp = backend.namespace(diff)
        size: Array = xp.abs(diff)
        if self.beta == 0:
            return size
        losses: Array = xp.where(size < self.beta, (0.5 / self.beta) * diff * diff,
                                 size - 0.5 * self.beta)
        return losses

    def backward(self, grad: npt.ArrayLike | None = None) -> Array:
        """``dL/dpred = clip(d / beta, −1, 1) · upstream`` (``sign(d)`` for ``beta = 0``)."""
        diff = self._saved()
        upstream = self.upstream(grad, diff)
        xp = backend.namespace(diff)
        grad_pred: Array = (xp.sign(diff) if self.beta == 0
                            else xp.clip(diff * (1 / self.beta), -1.0, 1.0))
        grad_pred *= upstream
        return grad_pred

    def extra_repr(self) -> str:
        return "" if self.beta == 1.0 else f", beta={self.beta}"
