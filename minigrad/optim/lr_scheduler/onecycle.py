"""`OneCycleLR`: the 1cycle policy, stepped per batch, with momentum/β₁ cycling."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from minigrad.core import check_count, check_number, check_positive
from minigrad.optim.groups import ParamGroup
from minigrad.optim.lr_scheduler.base import (
    LRScheduler,
    check_optimizer,
    per_group,
)
from minigrad.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topor), stepped once per *batch*: the rate rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then anneals to ``initial_lr / final_div_factor``; momentum (SGD's
    and RMSprop's ``momentum``, Adam's β₁) moves the opposite way between
    ``max_momentum`` and ``base_momentum``. ``anneal_strategy`` "cos" interpolates by
    ``end + (start − end)(1 + cos(π·pct))/2``, "linear" linearly; ``three_phase`` adds
    a symmetric descent before the final annealing. As ``torch.optim.lr_scheduler.OneCycleLR``.

    Raises
    ------
    ValueError
        Neither ``total_steps`` nor ``epochs`` and ``steps_per_epoch``; bad arguments;
        a step past ``total_steps``; ``cycle_momentum`` with an optimizer that has
        neither ``momentum`` nor ``betas``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        owner = "OneCycleLR"
        groups = check_optimizer(owner, optimizer).param_groups
        if total_steps is not None:
            self.total_steps = check_count(owner, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_count(owner, "epochs", epochs, 1)
                                * check_count(owner, "steps_per_epoch", steps_per_epoch, 1))
        else:
            raise ValueError(f"{owner}: give either total_steps or epochs and steps_per_epoch")
        pct = check_number(owner, "pct_start", pct_start, "a number in [0, 1]",
                           lambda v: 0 <= v <= 1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{owner}: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        # (end step, start/end lr, start/end momentum) per phase, PyTorch's table.
        self._phases: list[tuple[float, str, str, str, str]] = (
            [(pct * n - 1, "initial", "max", "max_m", "base_m"),
             (2 * pct * n - 2, "max", "initial", "base_m", "max_m"),
             (n - 1, "initial", "min", "max_m", "max_m")]
            if three_phase else
            [(pct * n - 1, "initial", "max", "max_m", "base_m"),
             (n - 1, "max", "min", "base_m", "max_m")]
        )
        max_lrs = per_group(owner, "max_lr", max_lr, len(groups))
        div = check_positive(owner, "div_factor", div_factor)
        final_div = check_positive(owner, "final_div_factor", final_div_factor)
        self._levels: list[dict[str, float]] = [
            {"max": top, "initial": top / div, "min": top / div / final_div} for top in max_lrs
        ]
        if last_epoch == -1:
            for group, levels in zip(groups, self._levels):
                group.initial_lr = levels["initial"]
        self.cycle_momentum = cycle_momentum
        self._use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum:
            if not self._use_beta1 and "momentum" not in optimizer.defaults:
                raise ValueError(f"{owner}: cycle_momentum needs an optimizer with momentum "
                                 f"or betas; {type(optimizer).__name__} has neither")
            tops = per_group(owner, "max_momentum", max_momentum, len(groups))
            bases = per_group(owner, "base_momentum", base_momentum, len(groups))
            for group, levels, top, base in zip(groups, self._levels, tops, bases):
                levels["max_m"], levels["base_m"] = top, base
                if last_epoch == -1:
                    self._set_momentum(group, top)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: ParamGroup, value: float) -> None:
        if self._use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; total_steps is "
                             f"{self.total_steps}")
        lrs = []
        for group, levels in zip(self.optimizer.param_groups, self._levels):
            start = 0.0
            for index, (end, lr_from, lr_to, m_from, m_to) in enumerate(self._phases):
                if step <= end or index == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    # At step == total_steps -- the step() after the last batch, whose
                    # rate no batch uses -- "linear" extrapolates past its end, below 0
                    # (PyTorch sets that negative rate; an optimizer refuses it): held at 0.
                    lrs.append(max(self._anneal(levels[lr_from], levels[lr_to], pct), 0.0))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(levels[m_from], levels[m_to], pct))
                    break
                start = end
        return lrs
