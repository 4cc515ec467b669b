"""Adaptive optimizers -- per-coordinate step sizes from running gradient statistics:
`Adam`, `AdamW`, `RMSprop`, `Adagrad`, each with ``torch.optim``'s update rule.

Every rule is written once, with the in-place kernels of the parameter's array library
(`Optimizer.workspace`, `minigrad.backend.UpdateKernels`) on the state and on scratch
buffers (`Optimizer.scratch`), in PyTorch's order of operations: on NumPy and PyTorch a
step allocates nothing, on other libraries it runs through the standard's operators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from minigrad import backend
from minigrad.core import Array, Parameter, check_non_negative, check_number, check_positive
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import Optimizer, decayed_grad


def checked_betas(name: str, betas: object) -> tuple[float, float]:
    """``betas`` as a pair of floats in [0, 1), or `ValueError` naming ``name``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair of numbers in [0, 1), got {betas!r}")
    beta1, beta2 = (check_number(name, f"betas[{i}]", beta, "a number in [0, 1)",
                                 lambda v: 0 <= v < 1) for i, beta in enumerate(betas))
    return beta1, beta2


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``; `AdamW` decouples the decay.

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← −g                            (maximize only)
        g ← g + λ θ                       (if λ ≠ 0; decoupled: θ ← θ (1 − γ λ) instead)
        m ← β₁ m + (1 − β₁) g             (m, v start at 0)
        v ← β₂ v + (1 − β₂) g²
        v_max ← max(v_max, v)             (amsgrad only; then v_max replaces v below)
        m̂ = m / (1 − β₁ᵗ)     v̂ = v / (1 − β₂ᵗ)
        θ ← θ − γ m̂ / (√v̂ + ε)

    State: ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v) and with amsgrad
    ``"max_exp_avg_sq"`` (v_max) per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
        Divides the step: with 0, a zero gradient (m = v = 0) would make the step 0/0.
    weight_decay : float ≥ 0, default 0 (`AdamW`: 1e-2)
    amsgrad : bool, default False
    maximize : bool, default False
        Ascend the objective (the gradient's sign flipped). Keyword-only, as the next.
    decoupled_weight_decay : bool, default False
        Shrink θ directly (AdamW's rule) instead of adding λθ to the gradient; `AdamW`
        is Adam with this always True. (PyTorch's ``foreach``, ``fused``,
        ``capturable`` and ``differentiable`` switch between implementations of one
        rule, or autograd through it; minigrad has one, so they are not arguments.)

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
    amsgrad = Hyperparameter[bool]()
    maximize = Hyperparameter[bool]()
    decoupled_weight_decay = Hyperparameter[bool]()
    non_negative_state = frozenset({"exp_avg_sq", "max_exp_avg_sq"})
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {
        "maximize": False, "decoupled_weight_decay": False}
    decoupled: ClassVar[bool] = False
    """Whether ``decoupled_weight_decay`` is always True (AdamW)."""

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
             "amsgrad": amsgrad, "maximize": maximize,
             "decoupled_weight_decay": decoupled_weight_decay},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        name = type(self).__name__
        decoupled = check_bool(name, "decoupled_weight_decay", hyper["decoupled_weight_decay"])
        if self.decoupled and not decoupled:
            raise ValueError(f"{name}: decoupled_weight_decay is always True (use Adam for "
                             "weight decay through the gradient)")
        return {
            "lr": check_non_negative(name, "lr", hyper["lr"]),
            "betas": checked_betas(name, hyper["betas"]),
            "eps": check_positive(name, "eps", hyper["eps"]),  # it divides: 0/0 at g = 0
            "weight_decay": check_non_negative(name, "weight_decay", hyper["weight_decay"]),
            "amsgrad": check_bool(name, "amsgrad", hyper["amsgrad"]),
            "maximize": check_bool(name, "maximize", hyper["maximize"]),
            "decoupled_weight_decay": decoupled,
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        names = ("exp_avg", "exp_avg_sq")
        return (*names, "max_exp_avg_sq") if hyper["amsgrad"] else names

    def step(self) -> None:
        self.steps += 1
        t = self.steps
        for group in self.param_groups:
            hyper = group.hyper
            lr, (beta1, beta2), eps = hyper["lr"], hyper["betas"], hyper["eps"]
            decay, amsgrad = hyper["weight_decay"], hyper["amsgrad"]
            maximize, decoupled = hyper["maximize"], hyper["decoupled_weight_decay"]
            # θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε), the rule above in
            # PyTorch's order of operations.
            step_size = lr / (1 - beta1**t)
            sqrt_correction2 = math.sqrt(1 - beta2**t)
            for param in group.trainable():
                kernels, d = self.workspace(param)  # d: scratch, for the denominator
                theta, state = param.data, self.state[param]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if decoupled:
                    if decay:
                        theta *= 1 - lr * decay                         # θ ← θ (1 − γ λ)
                    g = decayed_grad(self, kernels, param, 0.0, maximize)  # g ← ±g
                else:
                    g = decayed_grad(self, kernels, param, decay, maximize)  # g ← ±g + λ θ
                kernels.lerp_(m, g, weight=1 - beta1, tmp=d)        # m ← m + (1 − β₁)(g − m)
                # v ← β₂ v + (1 − β₂) g²
                kernels.addcmul_(v, g, g, value=1 - beta2, beta=beta2, tmp=d)
                if amsgrad:
                    v_max = state["max_exp_avg_sq"]
                    kernels.maximum_(v_max, v)                          # v_max ← max(v_max, v)
                    v = v_max
                kernels.sqrt_into(v, out=d)                         # d = √v / √(1 − β₂ᵗ) + ε
                d /= sqrt_correction2
                d += eps
                kernels.addcdiv_(theta, m, d, value=-step_size, tmp=d)  # θ ← θ − γ/(1 − β₁ᵗ) · m/d


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    The rule of `Adam` with the decay applied to the parameter before the update,
    not through the gradient: ``θ ← θ (1 − γ λ)``, then the Adam step on ``g``.
    Defaults as PyTorch's: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2, amsgrad=False, maximize=False``. State and errors as `Adam`'s;
    its groups' ``decoupled_weight_decay`` is always True (as PyTorch's), and setting
    it False raises `ValueError`.
    """

    decoupled = True
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {
        "maximize": False, "decoupled_weight_decay": True}

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    """RMSprop (Hinton), as ``torch.optim.RMSprop``.

    For each parameter θ with gradient g, smoothing constant α::

        g ← −g                               (maximize only)
        g ← g + λ θ                          (if λ ≠ 0)
        v ← α v + (1 − α) g²                 (v starts at 0)
        a ← α a + (1 − α) g                  (centered only; a starts at 0)
        d = √(v − a²) + ε   if centered   else   √v + ε
        b ← μ b + g / d,   θ ← θ − γ b       (if μ ≠ 0; b starts at 0)
        θ ← θ − γ g / d                      (if μ = 0)

    State: ``"square_avg"`` (v), with centered ``"grad_avg"`` (a), with momentum
    ``"momentum_buffer"`` (b).

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-2
    alpha : float in [0, 1], default 0.99
    eps : float > 0, default 1e-8
        Divides the step, as Adam's.
    weight_decay : float ≥ 0, default 0
    momentum : float ≥ 0, default 0
    centered : bool, default False
    maximize : bool, default False
        Ascend the objective (keyword-only; PyTorch's ``foreach``, ``capturable`` and
        ``differentiable`` are not arguments: minigrad has one implementation).

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    alpha = Hyperparameter[float]()
    eps = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    momentum = Hyperparameter[float]()
    centered = Hyperparameter[bool]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"square_avg"})
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {"maximize": False}

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
             "momentum": momentum, "centered": centered, "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative("RMSprop", "lr", hyper["lr"]),
            "alpha": check_number("RMSprop", "alpha", hyper["alpha"], "a number in [0, 1]",
                                  lambda v: 0 <= v <= 1),
            "eps": check_positive("RMSprop", "eps", hyper["eps"]),  # it divides, as Adam's
            "weight_decay": check_non_negative("RMSprop", "weight_decay", hyper["weight_decay"]),
            "momentum": check_non_negative("RMSprop", "momentum", hyper["momentum"]),
            "centered": check_bool("RMSprop", "centered", hyper["centered"]),
            "maximize": check_bool("RMSprop", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        names: tuple[str, ...] = ("square_avg",)
        if hyper["centered"]:
            names += ("grad_avg",)
        if hyper["momentum"]:
            names += ("momentum_buffer",)
        return names

    def step(self) -> None:
        self.steps += 1
        for group in self.param_groups:
            hyper = group.hyper
            lr, alpha, eps, momentum = hyper["lr"], hyper["alpha"], hyper["eps"], hyper["momentum"]
            decay, centered = hyper["weight_decay"], hyper["centered"]
            maximize = hyper["maximize"]
            for param in group.trainable():
                kernels, d = self.workspace(param)  # d: scratch, for the denominator
                theta, state = param.data, self.state[param]
                g = decayed_grad(self, kernels, param, decay, maximize)  # g ← ±g + λ θ
                v = state["square_avg"]
                # v ← α v + (1 − α) g²
                kernels.addcmul_(v, g, g, value=1 - alpha, beta=alpha, tmp=d)
                if centered:
                    a = state["grad_avg"]
                    kernels.lerp_(a, g, weight=1 - alpha, tmp=d)        # a ← a + (1 − α)(g − a)
                    kernels.addcmul_into(v, a, a, value=-1.0, out=d)    # d = √(v − a²) + ε
                    kernels.sqrt_into(d, out=d)
                else:
                    kernels.sqrt_into(v, out=d)                         # d = √v + ε
                d += eps
                if momentum:
                    b = state["momentum_buffer"]
                    b *= momentum
                    kernels.addcdiv_(b, g, d, value=1.0, tmp=d)         # b ← μ b + g / d
                    kernels.add_(theta, b, alpha=-lr, tmp=d)            # θ ← θ − γ b
                else:
                    kernels.addcdiv_(theta, g, d, value=-lr, tmp=d)     # θ ← θ − γ g / d


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← −g                               (maximize only)
        g ← g + λ θ                          (if λ ≠ 0)
        γ_t = γ / (1 + (t − 1) η)            (η: lr_decay)
        s ← s + g²                           (s starts at initial_accumulator_value)
        θ ← θ − γ_t g / (√s + ε)

    State: ``"sum"`` (s) per parameter.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-2
    lr_decay : float ≥ 0, default 0
    weight_decay : float ≥ 0, default 0
    initial_accumulator_value : float ≥ 0, default 0
    eps : float > 0, default 1e-10
        Divides the step, as Adam's.
    maximize : bool, default False
        Ascend the objective (keyword-only; PyTorch's ``foreach``, ``fused`` and
        ``differentiable`` are not arguments: minigrad has one implementation).

    Raises
    ------
    ValueError
        A hyperparameter out of range (NaN included); an empty ``params``, or a
        parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`.
    """

    lr_decay = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    initial_accumulator_value = Hyperparameter[float]()
    eps = Hyperparameter[float]()
    maximize = Hyperparameter[bool]()
    non_negative_state = frozenset({"sum"})
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {"maximize": False}

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
             "initial_accumulator_value": initial_accumulator_value, "eps": eps,
             "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "lr": check_non_negative("Adagrad", "lr", hyper["lr"]),
            **{
                name: check_non_negative("Adagrad", name, hyper[name])
                for name in ("lr_decay", "weight_decay", "initial_accumulator_value")
            },
            "eps": check_positive("Adagrad", "eps", hyper["eps"]),  # it divides, as Adam's
            "maximize": check_bool("Adagrad", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def initial_state(self, name: str, param: Parameter, hyper: Mapping[str, Any]) -> Array:
        xp = backend.namespace(param.data)
        initial: Array = xp.full_like(param.data, hyper["initial_accumulator_value"])
        return initial

    def step(self) -> None:
        self.steps += 1
        for group in self.param_groups:
            hyper = group.hyper
            clr = hyper["lr"] / (1 + (self.steps - 1) * hyper["lr_decay"])  # γ_t
            decay, eps, maximize = hyper["weight_decay"], hyper["eps"], hyper["maximize"]
            for param in group.trainable():
                kernels, d = self.workspace(param)  # d: scratch, for the denominator
                g = decayed_grad(self, kernels, param, decay, maximize)  # g ← ±g + λ θ
                total = self.state[param]["sum"]
                kernels.addcmul_(total, g, g, value=1.0, tmp=d)         # s ← s + g²
                kernels.sqrt_into(total, out=d)                         # d = √s + ε
                d += eps
                kernels.addcdiv_(param.data, g, d, value=-clr, tmp=d)   # θ ← θ − γ_t g / d
