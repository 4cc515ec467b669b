"""`Rprop`: resilient backpropagation, per-coordinate step sizes grown and shrunk by the
gradient's sign alone, with ``torch.optim.Rprop``'s rule (allocation-free on NumPy and
PyTorch, through the in-place kernels and one boolean mask per parameter)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.core import Array, Parameter, check_non_negative
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    For each parameter θ with gradient g, previous gradient p (0 at first) and
    per-coordinate step sizes s (γ at first), with etas (η₋, η₊) and step_sizes
    (s_min, s_max)::

        g ← −g                                 (maximize only)
        f = η₊ where g p > 0,  η₋ where g p < 0,  1 where g p = 0
        s ← clip(s f, s_min, s_max)
        g ← 0 where g p < 0                    (a sign change: no move, and no
                                                growth at the next step)
        θ ← θ − sign(g) s
        p ← g

    State: ``"prev"`` (p) and ``"step_size"`` (s) per parameter. A NaN in g makes θ and
    s NaN there (PyTorch's sign of NaN is 0, which would leave them as they were).

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-2
        The initial step size γ, read at the first step (as PyTorch: a schedule that
        changes it afterwards has no effect on the steps).
    etas : (float, float), default (0.5, 1.2)
        (η₋, η₊): the shrink and growth factors, 0 < η₋ < 1 < η₊.
    step_sizes : (float, float), default (1e-6, 50)
        (s_min, s_max): the bounds of the step sizes, 0 ≤ s_min ≤ s_max, finite.
    maximize : bool, default False
        Ascend the objective. Keyword-only; PyTorch's ``foreach``, ``capturable`` and
        ``differentiable`` are not arguments (minigrad has one implementation).

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    etas = Hyperparameter[tuple[float, float]]()
    step_sizes = Hyperparameter[tuple[float, float]]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"step_size"})

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "etas": etas, "step_sizes": step_sizes, "maximize": maximize})
        self._masks: dict[Parameter, Array] = {}  # where g p < 0, per parameter

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        etas, sizes = _pair(hyper["etas"]), _pair(hyper["step_sizes"])
        if etas is None or not 0 < etas[0] < 1 < etas[1] < math.inf:
            raise ValueError("Rprop: etas must be a pair (etaminus, etaplus) with "
                             f"0 < etaminus < 1 < etaplus, finite, got {hyper['etas']!r}")
        if sizes is None or not 0 <= sizes[0] <= sizes[1] < math.inf:
            raise ValueError("Rprop: step_sizes must be a pair (min, max) with "
                             f"0 <= min <= max, finite, got {hyper['step_sizes']!r}")
        return {
            "lr": check_non_negative("Rprop", "lr", hyper["lr"]),
            "etas": etas,
            "step_sizes": sizes,
            "maximize": check_bool("Rprop", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("prev", "step_size")

    def initial_state(self, name: str, param: Parameter, hyper: Mapping[str, Any]) -> Array:
        if name == "prev":
            return super().initial_state(name, param, hyper)
        xp = backend.namespace(param.data)
        sizes: Array = xp.full_like(param.data, hyper["lr"])
        return sizes

    def step(self) -> None:
        first = self.steps == 0  # PyTorch sets s to the lr of the first step
        self.steps += 1
        for group in self.param_groups:
            hyper = group.hyper
            (etaminus, etaplus), (low, high) = hyper["etas"], hyper["step_sizes"]
            for param in group.trainable():
                (k, tmp), state = self.workspace(param), self.state[param]
                prev, step_size = state["prev"], state["step_size"]
                if first:
                    step_size[...] = hyper["lr"]
                grad = decayed_grad(self, k, param, 0.0, hyper["maximize"])
                flipped = self._mask(param)
                k.mul_into(grad, prev, out=tmp)  # f from the sign of g p
                k.sign_select_into(tmp, etaminus, 1.0, etaplus, out=tmp, mask=flipped)
                step_size *= tmp
                k.clip_(step_size, low, high)
                k.copy_(prev, grad)  # p ← g, 0 where the sign flipped ...
                k.fill_where_(prev, flipped, 0.0)
                k.sign_into(prev, out=tmp)  # ... and θ ← θ − sign(g) s with that g
                tmp *= step_size
                k.add_(param.data, tmp, -1.0, tmp)

    def _mask(self, param: Parameter) -> Array:
        """The boolean scratch array of ``param`` (made on first use, in its library)."""
        mask = self._masks.get(param)
        if mask is None:
            data, xp = param.data, backend.namespace(param.data)
            mask = xp.empty(tuple(data.shape), dtype=xp.bool, device=backend.device(data))
            self._masks[param] = mask
        return mask


def _pair(value: object) -> tuple[float, float] | None:
    """``value`` as two floats (from a tuple or list of real numbers), or None."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        return None
    return float(value[0]), float(value[1])
