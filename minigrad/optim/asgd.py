"""`ASGD`: averaged stochastic gradient descent, with ``torch.optim.ASGD``'s rule --
SGD with a decaying step size, and a running average of the iterates kept beside
them (allocation-free on NumPy and PyTorch, through the in-place kernels)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minigrad.core import check_non_negative
from minigrad.optim.extra_state import ScalarState
from minigrad.optim.groups import Hyperparameter, ParamsLike, check_bool
from minigrad.optim.optimizer import decayed_grad


class ASGD(ScalarState):
    """Averaged SGD (Polyak & Juditsky, 1992; Bottou's schedule), as ``torch.optim.ASGD``.

    For each parameter θ with gradient g, at step t = 1, 2, ..., with step size η
    (γ at first) and averaging weight μ (1 at first)::

        g ← −g                                 (maximize only)
        g ← g + λ_wd θ                         (if weight_decay λ_wd ≠ 0)
        θ ← θ (1 − λ η)                        (λ: lambd)
        θ ← θ − η g
        ā ← ā + μ (θ − ā)   if μ ≠ 1,   else   ā ← θ
        η ← γ / (1 + λ γ t)^α,   μ ← 1 / max(1, t − t₀)

    ā, the average of the iterates from step t₀ on, is what ASGD offers as the
    solution: copy it into the parameters to evaluate it (training continues from θ).

    State: ``"ax"`` (ā) per parameter, and the numbers ``"eta"`` (η) and ``"mu"`` (μ)
    per parameter in `scalars` (``"state.{i}.eta"``, ``"state.{i}.mu"`` in
    `state_dict`), as PyTorch keeps them.

    Parameters
    ----------
    params : iterable of Parameter, or of dict (parameter groups)
    lr : float ≥ 0, default 1e-2
    lambd : float ≥ 0, default 1e-4
        The decay term.
    alpha : float ≥ 0, default 0.75
        The power of η's decay.
    t0 : float ≥ 0, default 1e6
        The step at which averaging starts.
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

    lambd = Hyperparameter[float]()
    alpha = Hyperparameter[float]()
    t0 = Hyperparameter[float]()
    weight_decay = Hyperparameter[float]()
    maximize = Hyperparameter[bool]()
    scalar_names = ("eta", "mu")

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
             "maximize": maximize},
        )

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **{name: check_non_negative("ASGD", name, hyper[name])
               for name in ("lr", "lambd", "alpha", "t0", "weight_decay")},
            "maximize": check_bool("ASGD", "maximize", hyper["maximize"]),
        }

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        return ("ax",)

    def initial_scalar(self, name: str, hyper: Mapping[str, Any]) -> float:
        return hyper["lr"] if name == "eta" else 1.0

    def step(self) -> None:
        first = self.steps == 0  # PyTorch makes η, μ at the first step, from that lr
        self.steps += 1
        t = self.steps
        for group in self.param_groups:
            hyper = group.hyper
            lr, lambd = hyper["lr"], hyper["lambd"]
            next_eta = lr / ((1 + lambd * lr * t) ** hyper["alpha"])
            next_mu = 1 / max(1, t - hyper["t0"])
            for param in group.trainable():
                (k, tmp), scalars = self.workspace(param), self.scalars[param]
                if first:
                    scalars.update(eta=lr, mu=1.0)
                eta, mu = scalars["eta"], scalars["mu"]
                grad = decayed_grad(self, k, param, hyper["weight_decay"], hyper["maximize"])
                param.data *= 1 - lambd * eta
                k.add_(param.data, grad, -eta, tmp)
                ax = self.state[param]["ax"]
                if mu != 1:
                    k.add_into(param.data, ax, -1.0, out=tmp)  # ā + μ (θ − ā)
                    tmp *= mu
                    ax += tmp
                else:
                    k.copy_(ax, param.data)
                scalars.update(eta=next_eta, mu=next_mu)
