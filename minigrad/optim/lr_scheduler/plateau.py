"""`ReduceLROnPlateau`: the rate follows a monitored metric, stepped per epoch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from minigrad.core import check_count, check_number
from minigrad.optim.lr_scheduler.base import (
    ScheduleState,
    check_optimizer,
    per_group,
)
from minigrad.optim.optimizer import Optimizer


class ReduceLROnPlateau(ScheduleState):
    """Multiply the rate by ``factor`` once a metric has not improved for ``patience``
    epochs, as PyTorch's: ``step(metric)`` once per epoch.

    *Improved* means ``a < best · (1 − threshold)`` (mode "min", threshold_mode "rel"),
    ``a < best − threshold`` ("abs"), or the mirror images for mode "max". After a
    reduction, ``cooldown`` epochs pass before counting bad epochs again; rates never
    go below ``min_lr``, and a change smaller than ``eps`` is skipped.
    """

    _int_state = ("last_epoch", "cooldown_counter", "num_bad_epochs")
    _float_state = ("best",)
    _list_state = ("_last_lr",)

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        self.optimizer = check_optimizer(owner, optimizer)
        self.factor = check_number(owner, "factor", factor, "a number in [0, 1)",
                                   lambda v: 0 <= v < 1)
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{owner}: threshold_mode must be 'rel' or 'abs', "
                             f"got {threshold_mode!r}")
        self.mode, self.threshold_mode = mode, threshold_mode
        self.threshold = check_number(owner, "threshold", threshold, "a finite number >= 0",
                                      lambda v: 0 <= v < math.inf)
        self.patience = check_count(owner, "patience", patience, 0)
        self.cooldown = check_count(owner, "cooldown", cooldown, 0)
        self.min_lrs = per_group(owner, "min_lr", min_lr, len(optimizer.param_groups))
        self.eps = check_number(owner, "eps", eps, "a finite number >= 0",
                                lambda v: 0 <= v < math.inf)
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def get_last_lr(self) -> list[float]:
        """The learning rates after the latest step, one per group."""
        return list(self._last_lr)

    def _is_better(self, current: float) -> bool:
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            bound = self.best * scale
        else:
            bound = self.best - self.threshold if self.mode == "min" else self.best + self.threshold
        return current < bound if self.mode == "min" else current > bound

    def step(self, metrics: float) -> None:
        """Record one epoch's ``metrics`` value and reduce the rates if it is time."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def __repr__(self) -> str:
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor}, "
                f"patience={self.patience}, best={self.best})")
