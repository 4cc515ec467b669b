"""`Adadelta`: step sizes from the ratio of running RMS of updates and of gradients,
with ``torch.optim.Adadelta``'s rule, written with the in-place kernels as the other
optimizers are (allocation-free on NumPy and PyTorch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minigrad.core import check_non_negative, check_number, check_positive
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    For each parameter θ with gradient g, decay ρ and learning rate γ::

        g ← −g                                 (maximize only)
        g ← g + λ θ                            (if λ ≠ 0)
        v ← ρ v + (1 − ρ) g²                   (v, u start at 0)
        Δ = √(u + ε) / √(v + ε) · g
        u ← ρ u + (1 − ρ) Δ²
        θ ← θ − γ Δ

    State: ``"square_avg"`` (v) and ``"acc_delta"`` (u) per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1.0
        Scales Δ (the method needs none; PyTorch's default 1 leaves Δ as it is).
    rho : float in [0, 1], default 0.9
    eps : float > 0, default 1e-6
        Divides the step: 0/0 at a zero gradient without it.
    weight_decay : float ≥ 0, default 0
    maximize : bool, default False
        Ascend the objective. Keyword-only (PyTorch's ``foreach`` comes before it; its
        ``capturable`` and ``differentiable`` are not arguments: minigrad has one
        implementation).

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    rho = Hyperparameter[float]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"square_avg", "acc_delta"})

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
             "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative("Adadelta", "lr", hyper["lr"]),
            "rho": check_number("Adadelta", "rho", hyper["rho"], "a number in [0, 1]",
                                lambda v: 0 <= v <= 1),
            "eps": check_positive("Adadelta", "eps", hyper["eps"]),  # it divides: 0/0 at g = 0
            "weight_decay": check_non_negative("Adadelta", "weight_decay",
                                               hyper["weight_decay"]),
            "maximize": check_bool("Adadelta", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("square_avg", "acc_delta")

    def step(self) -> None:
        self.steps += 1
        for group in self.param_groups:
            hyper = group.hyper
            rho, eps = hyper["rho"], hyper["eps"]
            for param in group.trainable():
                (k, delta), state = self.workspace(param), self.state[param]
                grad = decayed_grad(self, k, param, hyper["weight_decay"], hyper["maximize"])
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                std = self.scratch(param, 2)  # slot 1 may hold g
                k.addcmul_(square_avg, grad, grad, 1 - rho, std, beta=rho)
                k.copy_(std, square_avg)  # √(v + ε)
                std += eps
                k.sqrt_into(std, out=std)
                k.copy_(delta, acc_delta)  # Δ = √(u + ε) / √(v + ε) · g
                delta += eps
                k.sqrt_into(delta, out=delta)
                delta /= std
                delta *= grad
                k.addcmul_(acc_delta, delta, delta, 1 - rho, std, beta=rho)
                k.add_(param.data, delta, -hyper["lr"], std)
