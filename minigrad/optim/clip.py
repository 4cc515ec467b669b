"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Both work in place on ``param.grad`` and see only `Parameter`s, of any array library
(NumPy, PyTorch, any Array API namespace: norms through `minigrad.backend.vector_norm`,
clamping through the library's `minigrad.backend.UpdateKernels`); call them between
the backward pass and ``optimizer.step()`` (`fit` does with ``grad_clip=``).

>>> import numpy as np, minigrad as mg
>>> w = mg.Parameter(np.zeros(2), name="w")
>>> w.grad[...] = [3.0, 4.0]
>>> mg.clip_grad_norm([w], max_norm=1.0)     # the norm before clipping
5.0
>>> w.grad.round(6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from minigrad import backend
from minigrad.core import Parameter, check_non_negative, check_number


def _listed(owner: str, params: Parameter | Iterable[Parameter]) -> list[Parameter]:
    listed: list[Parameter] = [params] if isinstance(params, Parameter) else list(params)
    for index, param in enumerate(listed):
        if not isinstance(param, Parameter):
            raise TypeError(f"{owner}: params[{index}] is a {type(param).__name__}, "
                            "not a Parameter")
    return listed


def clip_grad_norm(
    params: Parameter | Iterable[Parameter], max_norm: float, norm_type: float = 2.0
) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    With the total norm ``N = ‖(‖g₁‖_p, ‖g₂‖_p, ...)‖_p`` over every gradient (the
    max of the absolute values for ``norm_type=inf``), each gradient is multiplied by
    ``min(1, max_norm / (N + 1e-6))`` -- PyTorch's coefficient, so a norm just at the
    limit is still scaled by slightly less than 1. Each gradient's norm is taken in its
    dtype and library, the total of those in float64 on the host (a Python float
    whatever the library; NaN if any gradient has a NaN).

    Parameters
    ----------
    params : iterable of Parameter (or one Parameter)
    max_norm : float >= 0
    norm_type : float > 0 or inf, default 2

    Returns
    -------
    float
        The total norm before clipping (``nan``/``inf`` if a gradient has such values;
        the gradients are then scaled by NaN, as PyTorch does).

    Raises
    ------
    ValueError
        ``max_norm`` negative or not finite, ``norm_type`` not > 0.
    TypeError
        An item that is not a `Parameter`.
    """
    listed = _listed("clip_grad_norm", params)
    limit = check_non_negative("clip_grad_norm", "max_norm", max_norm)
    p = check_number("clip_grad_norm", "norm_type", norm_type, "a number > 0 or inf",
                     lambda v: v > 0)
    if not listed:
        return 0.0
    norms = np.array([backend.vector_norm(param.grad, p) for param in listed])
    total = float(np.linalg.norm(norms, ord=p))  # ord=inf: the max, NaN if any is
    coefficient = limit / (total + 1e-6)
    if not coefficient < 1.0 and not math.isnan(coefficient):
        return total
    for param in listed:
        param.grad *= coefficient
    return total


def clip_grad_value(params: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    Raises
    ------
    ValueError
        ``clip_value`` negative or not finite.
    TypeError
        An item that is not a `Parameter`.
    """
    listed = _listed("clip_grad_value", params)
    limit = check_non_negative("clip_grad_value", "clip_value", clip_value)
    for param in listed:
        grad = param.grad
        backend.update_kernels(grad).clip_(grad, -limit, limit)
