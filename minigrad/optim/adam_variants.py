"""Adam's relatives, each with ``torch.optim``'s rule and defaults: `NAdam` (Nesterov
momentum), `RAdam` (rectified variance) and `Adamax` (the infinity norm).

Written as `minigrad.optim.adaptive`'s optimizers are: the in-place kernels of the
parameter's array library on the state and on scratch buffers, in PyTorch's order of
operations, allocation-free on NumPy and PyTorch. PyTorch's ``foreach``,
``capturable`` and ``differentiable`` switch between implementations of one rule (or
autograd through it); minigrad has one implementation, so they are not arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minigrad.core import check_non_negative, check_positive
from minigrad.optim.adaptive import checked_betas
from minigrad.optim.extra_state import ScalarState
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


def _adam_hyperparameters(name: str, hyper: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters the Adam family shares, checked: lr, betas, eps,
    weight_decay (and maximize, which PyTorch gives each of them)."""
    return {
        "lr": check_non_negative(name, "lr", hyper["lr"]),
        "betas": checked_betas(name, hyper["betas"]),
        "eps": check_positive(name, "eps", hyper["eps"]),  # it divides: 0/0 at g = 0
        "weight_decay": check_non_negative(name, "weight_decay", hyper["weight_decay"]),
        "maximize": check_bool(name, "maximize", hyper["maximize"]),
    }


class NAdam(ScalarState):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam``.

    For each parameter θ with gradient g, at step t = 1, 2, ... (ψ: momentum_decay)::

        g ← −g                                 (maximize only)
        g ← g + λ θ                            (if λ ≠ 0; decoupled: θ ← θ (1 − γ λ))
        μ_t = β₁ (1 − ½ · 0.96^(t ψ))          (the momentum schedule)
        Π ← Π μ_t                              (Π, "mu_product", starts at 1)
        m ← β₁ m + (1 − β₁) g                  (m, v start at 0)
        v ← β₂ v + (1 − β₂) g²
        d = √(v / (1 − β₂ᵗ)) + ε
        θ ← θ − γ (1 − μ_t) / (1 − Π) · g / d − γ μ_{t+1} / (1 − Π μ_{t+1}) · m / d

    State: ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v) per parameter, and the number
    ``"mu_product"`` (Π) per parameter in `scalars` (``"state.{i}.mu_product"`` in
    `state_dict`), as PyTorch keeps it.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 2e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
        Divides the step: 0/0 at a zero gradient without it.
    weight_decay : float ≥ 0, default 0
    momentum_decay : float ≥ 0, default 4e-3
    decoupled_weight_decay : bool, default False
        Shrink θ directly (as AdamW) instead of adding λθ to the gradient.
    maximize : bool, default False
        Ascend the objective. Keyword-only.

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    betas = Hyperparameter[tuple[float, float]]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    momentum_decay = Hyperparameter[float]()
    decoupled_weight_decay = Hyperparameter[bool]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"exp_avg_sq"})
    scalar_names = ("mu_product",)

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
             "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
             "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_adam_hyperparameters("NAdam", hyper),
            "momentum_decay": check_non_negative("NAdam", "momentum_decay",
                                                 hyper["momentum_decay"]),
            "decoupled_weight_decay": check_bool("NAdam", "decoupled_weight_decay",
                                                 hyper["decoupled_weight_decay"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def initial_scalar(self, name: str, hyper: Mapping[str, Any]) -> float:
        return 1.0  # mu_product: the empty product

    def step(self) -> None:
        self.steps += 1
        t = self.steps
        for group in self.param_groups:
            hyper = group.hyper
            lr, (beta1, beta2), eps = hyper["lr"], hyper["betas"], hyper["eps"]
            decay, decoupled = hyper["weight_decay"], hyper["decoupled_weight_decay"]
            bias_correction2 = 1 - beta2**t
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * hyper["momentum_decay"])))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * hyper["momentum_decay"])))
            for param in group.trainable():
                (k, tmp), state = self.workspace(param), self.state[param]
                scalars = self.scalars[param]
                mu_product = scalars["mu_product"] = scalars["mu_product"] * mu
                if decoupled and decay:
                    param.data *= 1 - lr * decay
                grad = decayed_grad(self, k, param, 0.0 if decoupled else decay,
                                     hyper["maximize"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                k.lerp_(exp_avg, grad, 1 - beta1, tmp)  # m ← m + (1 − β₁)(g − m)
                k.addcmul_(exp_avg_sq, grad, grad, 1 - beta2, tmp, beta=beta2)
                denom = self.scratch(param, 2)  # d, used twice (slot 1 may hold g)
                k.div_into(exp_avg_sq, bias_correction2, out=denom)
                k.sqrt_into(denom, out=denom)
                denom += eps
                k.addcdiv_(param.data, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product), tmp)
                k.addcdiv_(param.data, exp_avg, denom,
                           (-lr * mu_next) / (1.0 - mu_product * mu_next), tmp)


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): Adam with its variance rectified, as ``torch.optim.RAdam``.

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← −g                                 (maximize only)
        g ← g + λ θ                            (if λ ≠ 0; decoupled: θ ← θ (1 − γ λ))
        m ← β₁ m + (1 − β₁) g                  (m, v start at 0)
        v ← β₂ v + (1 − β₂) g²
        ρ_∞ = 2 / (1 − β₂) − 1,   ρ_t = ρ_∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
        r_t = √((ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t))
        θ ← θ − γ m / (1 − β₁ᵗ) · √(1 − β₂ᵗ) / (√v + ε) · r_t     (if ρ_t > 5)
        θ ← θ − γ m / (1 − β₁ᵗ)                                   (otherwise: SGD
                                                                   with momentum)

    State: ``"exp_avg"`` (m) and ``"exp_avg_sq"`` (v) per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
        Divides the step: 0/0 at a zero gradient without it.
    weight_decay : float ≥ 0, default 0
    decoupled_weight_decay : bool, default False
        Shrink θ directly (as AdamW) instead of adding λθ to the gradient.
    maximize : bool, default False
        Ascend the objective. Keyword-only.

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    betas = Hyperparameter[tuple[float, float]]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    decoupled_weight_decay = Hyperparameter[bool]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"exp_avg_sq"})

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
             "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **_adam_hyperparameters("RAdam", hyper),
            "decoupled_weight_decay": check_bool("RAdam", "decoupled_weight_decay",
                                                 hyper["decoupled_weight_decay"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def step(self) -> None:
        self.steps += 1
        t = self.steps
        for group in self.param_groups:
            hyper = group.hyper
            lr, (beta1, beta2), eps = hyper["lr"], hyper["betas"], hyper["eps"]
            decay, decoupled = hyper["weight_decay"], hyper["decoupled_weight_decay"]
            bias_correction1, bias_correction2 = 1 - beta1**t, 1 - beta2**t
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
            rectified = rho_t > 5.0
            if rectified:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                sqrt_correction2 = bias_correction2**0.5
            for param in group.trainable():
                (k, tmp), state = self.workspace(param), self.state[param]
                if decoupled and decay:
                    param.data *= 1 - lr * decay
                grad = decayed_grad(self, k, param, 0.0 if decoupled else decay,
                                     hyper["maximize"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                k.lerp_(exp_avg, grad, 1 - beta1, tmp)
                k.addcmul_(exp_avg_sq, grad, grad, 1 - beta2, tmp, beta=beta2)
                # PyTorch's product, left to right: (m / (1 − β₁ᵗ)) · γ · a · r_t.
                k.div_into(exp_avg, bias_correction1, out=tmp)
                tmp *= lr
                if rectified:
                    adaptive = self.scratch(param, 2)  # a = √(1 − β₂ᵗ) / (√v + ε) ...
                    k.sqrt_into(exp_avg_sq, out=adaptive)
                    adaptive += eps
                    k.reciprocal_(adaptive)  # ... as torch's float / tensor: 1/x times it
                    adaptive *= sqrt_correction2
                    tmp *= adaptive
                    tmp *= rect
                k.add_(param.data, tmp, -1.0, tmp)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015): Adam with the infinity norm, as ``torch.optim.Adamax``.

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← −g                                 (maximize only)
        g ← g + λ θ                            (if λ ≠ 0)
        m ← β₁ m + (1 − β₁) g                  (m, u start at 0)
        u ← max(β₂ u, |g| + ε)
        θ ← θ − γ / (1 − β₁ᵗ) · m / u

    State: ``"exp_avg"`` (m) and ``"exp_inf"`` (u) per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 2e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
        Divides the step: 0/0 at a zero gradient without it.
    weight_decay : float ≥ 0, default 0
    maximize : bool, default False
        Ascend the objective. Keyword-only (PyTorch's ``foreach`` comes before it).

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    betas = Hyperparameter[tuple[float, float]]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"exp_inf"})

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
             "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return _adam_hyperparameters("Adamax", hyper)

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_inf")

    def step(self) -> None:
        self.steps += 1
        for group in self.param_groups:
            hyper = group.hyper
            (beta1, beta2), eps = hyper["betas"], hyper["eps"]
            clr = hyper["lr"] / (1 - beta1**self.steps)
            for param in group.trainable():
                (k, tmp), state = self.workspace(param), self.state[param]
                grad = decayed_grad(self, k, param, hyper["weight_decay"], hyper["maximize"])
                exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
                k.lerp_(exp_avg, grad, 1 - beta1, tmp)
                exp_inf *= beta2  # u ← max(β₂ u, |g| + ε)
                k.abs_into(grad, out=tmp)
                tmp += eps
                k.maximum_(exp_inf, tmp)
                k.addcdiv_(param.data, exp_avg, exp_inf, -clr, tmp)
