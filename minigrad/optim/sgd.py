"""`SGD`: stochastic gradient descent with momentum, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from minigrad.core import check_non_negative, check_number
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    PyTorch's rule (``torch.optim.SGD``), for each parameter θ with gradient g, learning
    rate γ, momentum μ, dampening τ and weight decay λ::

        g ← −g                       (maximize only)
        g ← g + λ θ                  (if λ ≠ 0: L2 penalty λ‖θ‖²/2)
        b ← μ b + (1 − τ) g          (if μ ≠ 0; at the first step b ← g)
        g ← g + μ b   if nesterov    else   g ← b
        θ ← θ − γ g

    With the defaults this is plain ``θ ← θ − γ g``, the cheapest path.

    State: ``"momentum_buffer"`` (b) per parameter of groups with ``momentum > 0``.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0
    momentum : float ≥ 0, default 0
    dampening : float in [0, 1], default 0
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening = 0``. Keyword-only,
        as the next two (PyTorch's ``weight_decay`` comes before it).
    weight_decay : float ≥ 0, default 0
    maximize : bool, default False
        Ascend the objective. PyTorch's ``foreach``, ``fused`` and ``differentiable``
        are not arguments: minigrad has one implementation.

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included), or ``nesterov`` without momentum
        or with dampening;
        an empty ``params``, or a parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    momentum = Hyperparameter[float]()
    dampening = Hyperparameter[float]()
    nesterov = Hyperparameter[bool]()
    weight_decay = Hyperparameter[float]()
    maximize = Hyperparameter[bool]()
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {"dampening": 0.0, "maximize": False}

    def __init__(
        self,
        params: ParamsLike,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
             "weight_decay": weight_decay, "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        momentum = check_non_negative("SGD", "momentum", hyper["momentum"])
        dampening = check_number("SGD", "dampening", hyper["dampening"], "a number in [0, 1]",
                                 lambda v: 0 <= v <= 1)
        nesterov = check_bool("SGD", "nesterov", hyper["nesterov"])
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        if nesterov and dampening:
            raise ValueError(f"SGD: nesterov=True needs dampening = 0, got {dampening}")
        return {
            "lr": check_non_negative("SGD", "lr", hyper["lr"]),
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": check_non_negative("SGD", "weight_decay", hyper["weight_decay"]),
            "maximize": check_bool("SGD", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] else ()

    def step(self) -> None:
        self.steps += 1
        workspace = self.workspace
        for group in self.param_groups:
            hyper = group.hyper  # one dict read each, not descriptor calls: hot path
            lr, mu, decay = hyper["lr"], hyper["momentum"], hyper["weight_decay"]
            nesterov, maximize = hyper["nesterov"], hyper["maximize"]
            # PyTorch's first buffer is g itself, undamped: b = 0 makes μ b + 1·g that.
            damped = 1 - hyper["dampening"] if self.steps > 1 else 1.0
            for param in group.params:  # `ParamGroup.trainable`, without building its list
                if not param.requires_grad:
                    continue
                kernels, tmp = workspace(param)
                theta = param.data
                if decay or maximize:
                    g = decayed_grad(self, kernels, param, decay, maximize)  # g ← ±g + λ θ
                else:
                    g = param.grad
                if mu:
                    b = self.state[param]["momentum_buffer"]
                    kernels.scale_add_(b, g, alpha=damped, beta=mu, tmp=tmp)  # b ← μ b + (1 − τ) g
                    if nesterov:
                        kernels.add_into(g, b, alpha=mu, out=tmp)      # g ← g + μ b
                        g = tmp
                    else:
                        g = b                                           # g ← b
                kernels.add_(theta, g, -lr, tmp)                        # θ ← θ − γ g
