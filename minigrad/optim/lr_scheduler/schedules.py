"""The epoch-indexed schedules of fixed shape: `LambdaLR`, `StepLR`, `MultiStepLR`,
`ExponentialLR`, `LinearLR` (warm-up), `CosineAnnealingLR`, and `SequentialLR`
chaining them."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy.typing as npt

from minigrad.core import Array, check_count, check_number, check_positive
from minigrad.optim.lr_scheduler.base import (
    LRScheduler,
    check_optimizer,
)
from minigrad.optim.optimizer import Optimizer


class LambdaLR(LRScheduler):
    """``lr = base_lr · lr_lambda(epoch)``; one function, or one per parameter group.

    The functions are not part of `state_dict`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = len(check_optimizer("LambdaLR", optimizer).param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * groups
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per parameter "
                                 f"group), got {len(self.lr_lambdas)}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr · gamma^⌊epoch / step_size⌋``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = check_count("StepLR", "step_size", step_size, 1)
        self.gamma = check_positive("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch:
    ``lr = base_lr · gamma^(number of milestones <= epoch)``."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(check_count("MultiStepLR", "milestones[i]", m, 0)
                                  for m in milestones)
        self.gamma = check_positive("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]

    def closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``lr = base_lr · gamma^epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_positive("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Warm-up: the factor goes linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then stays:
    ``lr = base_lr · (s + (e − s) · min(epoch, total_iters) / total_iters)``."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        self.start_factor = check_number("LinearLR", "start_factor", start_factor,
                                         "a number in (0, 1]", lambda v: 0 < v <= 1)
        self.end_factor = check_number("LinearLR", "end_factor", end_factor,
                                       "a number in [0, 1]", lambda v: 0 <= v <= 1)
        self.total_iters = check_count("LinearLR", "total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (
            self.total_iters * self.start_factor + (self.last_epoch - 1) * change
        )
        return [lr * ratio for lr in self._lrs()]

    def closed_form_lr(self) -> list[float]:
        factor = self.start_factor + (self.end_factor - self.start_factor) * min(
            self.total_iters, self.last_epoch) / self.total_iters
        return [base * factor for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``lr = η_min + (base_lr − η_min) · (1 + cos(π · epoch / T_max)) / 2``, computed
    recursively as PyTorch does (and continuing periodically past ``T_max``)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        self.T_max = check_count("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min,
                                    "a finite number >= 0", lambda v: 0 <= v < math.inf)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return [low + (base - low) * (1 + math.cos(t * math.pi / period)) / 2
                    for base in self.base_lrs]
        if (t - 1 - period) % (2 * period) == 0:
            return [lr + (base - low) * (1 - math.cos(math.pi / period)) / 2
                    for base, lr in zip(self.base_lrs, self._lrs())]
        ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
        return [ratio * (lr - low) + low for lr in self._lrs()]

    def closed_form_lr(self) -> list[float]:
        cos = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cos / 2 for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` from epoch ``milestones[i - 1]`` on, each restarted at its
    epoch 0 when its turn comes (e.g. `LinearLR` warm-up, then `CosineAnnealingLR`).

    Its `state_dict` holds the sub-schedulers' under ``"schedulers.{i}."``.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        check_optimizer("SequentialLR", optimizer)
        if not schedulers:
            raise ValueError("SequentialLR: expects at least one scheduler")
        for index, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{index}] is a "
                                f"{type(scheduler).__name__}, not an epoch LRScheduler")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{index}] belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = [check_count("SequentialLR", "milestones[i]", m, 0)
                            for m in milestones]
        self.last_epoch = last_epoch + 1
        self.base_lrs = [float(group.initial_lr or group["lr"]) for group in
                         optimizer.param_groups]
        for group, base in zip(optimizer.param_groups, self.base_lrs):
            group["lr"] = base
        for scheduler in self._schedulers:  # undo the steps their constructors took
            scheduler.last_epoch -= 1
        self._schedulers[0]._initial_step()
        self._step_count = 1
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Array]:
        state = super().state_dict()
        for index, scheduler in enumerate(self._schedulers):
            state.update((f"schedulers.{index}.{key}", value)
                         for key, value in scheduler.state_dict().items())
        return state

    def check_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> Callable[[], None]:
        own = {key: value for key, value in state.items() if not key.startswith("schedulers.")}
        parts: list[dict[str, npt.ArrayLike]] = [{} for _ in self._schedulers]
        for key, value in state.items():
            if key.startswith("schedulers."):
                index, _, name = key.removeprefix("schedulers.").partition(".")
                if not index.isdigit() or int(index) >= len(parts) or not name:
                    raise KeyError(f"SequentialLR.load_state_dict: unexpected key {key!r}")
                parts[int(index)][name] = value
        # Every part checked before any is written: a refused last part leaves the first
        # ones as they were.
        writes = [super().check_state_dict(own)]
        writes += [scheduler.check_state_dict(part)
                   for scheduler, part in zip(self._schedulers, parts)]

        def write() -> None:
            for part_write in writes:
                part_write()

        return write
