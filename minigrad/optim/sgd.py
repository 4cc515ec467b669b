"""`SGD`: stochastic gradient descent with momentum, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minigrad.core import check_non_negative
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    PyTorch's rule (``torch.optim.SGD`` with ``dampening=0``), for each parameter θ with
    gradient g, learning rate γ, momentum μ and weight decay λ::

        g ← g + λ θ                  (if λ ≠ 0: L2 penalty λ‖θ‖²/2)
        b ← μ b + g                  (if μ ≠ 0; b starts at 0, so the first b is g)
        g ← g + μ b   if nesterov    else   g ← b
        θ ← θ − γ g

    With the defaults this is plain ``θ ← θ − γ g``, the cheapest path.

    State: ``"momentum_buffer"`` (b) per parameter of groups with ``momentum > 0``.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0
    momentum : float ≥ 0, default 0
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0``. Keyword-only (its position differs
        from PyTorch's, where ``dampening`` comes first).
    weight_decay : float ≥ 0, default 0

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included), or ``nesterov`` without momentum;
        an empty ``params``, or a parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    momentum = Hyperparameter[float]()
    nesterov = Hyperparameter[bool]()
    weight_decay = Hyperparameter[float]()

    def __init__(
        self,
        params: ParamsLike,
        lr: float,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        momentum = check_non_negative("SGD", "momentum", hyper["momentum"])
        nesterov = check_bool("SGD", "nesterov", hyper["nesterov"])
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        return {
            "lr": check_non_negative("SGD", "lr", hyper["lr"]),
            "momentum": momentum,
            "nesterov": nesterov,
            "weight_decay": check_non_negative("SGD", "weight_decay", hyper["weight_decay"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] else ()

    def step(self) -> None:
        self.steps += 1
        workspace = self.workspace
        for group in self.param_groups:
            hyper = group.hyper  # one dict read each, not descriptor calls: hot path
            lr, mu, decay = hyper["lr"], hyper["momentum"], hyper["weight_decay"]
            nesterov = hyper["nesterov"]
            for param in group.params:
                kernels, tmp = workspace(param)
                theta, g = param.data, param.grad
                if decay:
                    g = decayed_grad(self, kernels, param, decay)       # g ← g + λ θ
                if mu:
                    b = self.state[param]["momentum_buffer"]
                    kernels.scale_add_(b, g, alpha=1.0, beta=mu, tmp=tmp)  # b ← μ b + g
                    if nesterov:
                        kernels.add_into(g, b, alpha=mu, out=tmp)      # g ← g + μ b
                        g = tmp
                    else:
                        g = b                                           # g ← b
                kernels.add_(theta, g, alpha=-lr, tmp=tmp)              # θ ← θ − γ g
