"""Learning-rate schedules, as ``torch.optim.lr_scheduler``: same names, arguments,
defaults and values after every ``step()``.

A scheduler is built on an optimizer (it performs its first step then, setting the
epoch-0 learning rate) and ``step()`` is called after each ``optimizer.step()`` -- once
per epoch or once per batch, as the schedule is meant; `fit` does either through the
`minigrad.LearningRateScheduler` callback. Each writes ``group["lr"]`` of every
parameter group, in PyTorch's *chainable* form (the new rate from the current one),
so two schedulers on one optimizer compose as they do in PyTorch.

>>> import numpy as np, minigrad as mg
>>> opt = mg.SGD([mg.Parameter(np.zeros(2))], lr=0.1)
>>> schedule = mg.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(5):
...     rates.append(opt.lr)      # ... one epoch of training with this rate ...
...     schedule.step()
>>> rates
[0.1, 0.1, 0.05, 0.05, 0.025]

`state_dict` holds what changes as a schedule runs (epoch and step counters, base and
last rates, plateau counters) as flat arrays, so it can be saved with `mg.save`; the
constructor's arguments are not saved -- rebuild the scheduler the same way. Every
array is finite: a value that may be infinite (`ReduceLROnPlateau`'s ``best`` starts
at ±inf) is stored as a finite number plus ``<name>_infinite`` (−1, 0 or +1), so the
state passes `mg.load`'s refusal of non-finite arrays.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from minigrad.base import Array, check_count, check_number, check_positive
from minigrad.optimizers import Optimizer, ParamGroup

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


def _check_optimizer(owner: str, optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _int_array(value: int) -> Array:
    return np.array(value, dtype=np.int64)


class _Stateful:
    """Flat-array ``state_dict`` / ``load_state_dict`` over named attributes."""

    _int_state: tuple[str, ...] = ()
    _float_state: tuple[str, ...] = ()
    """Float attributes that may be ±inf: saved as ``name`` (finite, 0 for ±inf) and
    ``name_infinite`` (the sign of an infinity, else 0)."""
    _list_state: tuple[str, ...] = ()
    """Attributes that are lists of floats, one per parameter group."""

    def state_dict(self) -> dict[str, Array]:
        """The progress of the schedule as flat arrays (see the module docs)."""
        state = {"scheduler": np.array(type(self).__name__)}
        state.update((name, _int_array(getattr(self, name))) for name in self._int_state)
        for name in self._float_state:
            value = float(getattr(self, name))
            infinite = 0 if math.isfinite(value) else int(math.copysign(1, value))
            state[name] = np.array(0.0 if infinite else value)
            state[f"{name}_infinite"] = _int_array(infinite)
        state.update((name, np.array(getattr(self, name), dtype=np.float64))
                     for name in self._list_state)
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Restore what `state_dict` returned; checked entirely before anything is set.

        Raises
        ------
        KeyError
            Missing or unexpected keys.
        ValueError
            Another scheduler's state, or an entry of the wrong shape or dtype.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        infinite_keys = tuple(f"{name}_infinite" for name in self._float_state)
        expected = {"scheduler", *self._int_state, *infinite_keys, *self._float_state,
                    *self._list_state}
        if state.keys() != expected:
            raise KeyError(
                f"{owner}: missing keys {sorted(expected - state.keys())}, "
                f"unexpected keys {sorted(state.keys() - expected)}"
            )
        kind = np.asarray(state["scheduler"])
        if kind.shape != () or str(kind) != type(self).__name__:
            raise ValueError(f"{owner}: 'scheduler' is {kind.tolist()!r}, expected "
                             f"{type(self).__name__!r}")
        values: dict[str, object] = {}
        for names, kinds in ((self._int_state + infinite_keys, "iu"), (self._float_state, "f")):
            for name in names:
                array = np.asarray(state[name])
                if array.shape != () or array.dtype.kind not in kinds:
                    raise ValueError(f"{owner}: {name!r} must be a 0-d {kinds[0]} array, "
                                     f"got shape {array.shape}, dtype {array.dtype}")
                values[name] = array.item()
        for name, key in zip(self._float_state, infinite_keys):
            finite, sign = float(np.asarray(state[name])), int(np.asarray(state[key]))
            del values[key]
            if sign not in (-1, 0, 1) or not math.isfinite(finite):
                raise ValueError(f"{owner}: {name!r} must be finite and {key!r} -1, 0 or 1, "
                                 f"got {finite} and {sign}")
            values[name] = math.copysign(math.inf, sign) if sign else finite
        for name in self._list_state:
            array = np.asarray(state[name])
            count = len(getattr(self, name))
            if array.shape != (count,) or array.dtype.kind != "f":
                raise ValueError(f"{owner}: {name!r} must be a float array of shape ({count},), "
                                 f"got shape {array.shape}, dtype {array.dtype}")
            values[name] = [float(v) for v in array]
        for name, value in values.items():
            setattr(self, name, value)


class LRScheduler(_Stateful):
    """Base of the epoch-indexed schedules: `get_lr` gives each group's next rate.

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int, default -1
        The index of the last epoch when resuming; -1 starts afresh (PyTorch's).

    Attributes
    ----------
    optimizer : Optimizer
    base_lrs : list of float
        Each group's learning rate when the first scheduler was attached
        (``ParamGroup.initial_lr``).
    last_epoch : int
        Steps taken (the construction counts as step 0).
    """

    _int_state = ("last_epoch", "_step_count")
    _list_state = ("base_lrs", "_last_lr")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = _check_optimizer(type(self).__name__, optimizer)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                if group.initial_lr is None:
                    group.initial_lr = group["lr"]
        elif any(group.initial_lr is None for group in groups):
            raise ValueError(f"{type(self).__name__}: last_epoch={last_epoch} resumes a "
                             "schedule, but no scheduler was attached to this optimizer before")
        self.base_lrs: list[float] = [float(group.initial_lr or 0.0) for group in groups]
        self.last_epoch = check_count(type(self).__name__, "last_epoch", last_epoch, -1)
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """Each group's learning rate for epoch ``last_epoch`` (chainable form)."""
        raise NotImplementedError

    def closed_form_lr(self) -> list[float] | None:
        """Each group's rate at ``last_epoch`` from ``base_lrs`` directly, if the schedule
        has such a form (used when `SequentialLR` restarts it at epoch 0)."""
        return None

    def get_last_lr(self) -> list[float]:
        """The learning rates the latest step set, one per group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch (or batch) and set every group's learning rate."""
        self._step_count += 1
        self._update(None)

    def _update(self, epoch: int | None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self.closed_form_lr() or self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


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
        groups = len(_check_optimizer("LambdaLR", optimizer).param_groups)
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
        _check_optimizer("SequentialLR", optimizer)
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

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        own = {key: value for key, value in state.items() if not key.startswith("schedulers.")}
        parts: list[dict[str, npt.ArrayLike]] = [{} for _ in self._schedulers]
        for key, value in state.items():
            if key.startswith("schedulers."):
                _, index, name = key.split(".", 2)
                if not index.isdigit() or int(index) >= len(parts):
                    raise KeyError(f"SequentialLR.load_state_dict: unexpected key {key!r}")
                parts[int(index)][name] = value
        super().load_state_dict(own)
        for scheduler, part in zip(self._schedulers, parts):
            scheduler.load_state_dict(part)


def _per_group(owner: str, name: str, value: float | Sequence[float], groups: int) -> list[float]:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{owner}: expected {groups} values of {name} (one per parameter "
                         f"group), got {len(values)}")
    return [check_number(owner, name, v, "a finite number >= 0",
                         lambda x: 0 <= x < math.inf) for v in values]


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
        groups = _check_optimizer(owner, optimizer).param_groups
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
        max_lrs = _per_group(owner, "max_lr", max_lr, len(groups))
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
            tops = _per_group(owner, "max_momentum", max_momentum, len(groups))
            bases = _per_group(owner, "base_momentum", base_momentum, len(groups))
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
                    lrs.append(self._anneal(levels[lr_from], levels[lr_to], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(levels[m_from], levels[m_to], pct))
                    break
                start = end
        return lrs


class ReduceLROnPlateau(_Stateful):
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
        self.optimizer = _check_optimizer(owner, optimizer)
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
        self.min_lrs = _per_group(owner, "min_lr", min_lr, len(optimizer.param_groups))
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
