"""The base of the schedules: `LRScheduler` (epoch-indexed, chainable), the flat
array state every scheduler saves (`ScheduleState`) and shared argument checks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from minigrad.core import Array, check_count, check_number, name_list
from minigrad.optim.optimizer import Optimizer


def check_optimizer(owner: str, optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def int_array(value: int) -> Array:
    return np.array(value, dtype=np.int64)


class ScheduleState:
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
        state.update((name, int_array(getattr(self, name))) for name in self._int_state)
        for name in self._float_state:
            value = float(getattr(self, name))
            infinite = 0 if math.isfinite(value) else int(math.copysign(1, value))
            state[name] = np.array(0.0 if infinite else value)
            state[f"{name}_infinite"] = int_array(infinite)
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
        self.check_state_dict(state)()

    def check_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> Callable[[], None]:
        """Check ``state`` as `load_state_dict` does, changing nothing, and return the
        function that then writes it (which cannot fail).

        What loads several objects all or nothing (``load_checkpoint``) checks each
        before writing any. Raises as `load_state_dict`.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        infinite_keys = tuple(f"{name}_infinite" for name in self._float_state)
        expected = {"scheduler", *self._int_state, *infinite_keys, *self._float_state,
                    *self._list_state}
        if state.keys() != expected:
            raise KeyError(
                f"{owner}: missing keys {name_list(sorted(expected - state.keys()))}, "
                f"unexpected keys {name_list(sorted(state.keys() - expected))}"
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

        def write() -> None:
            for name, value in values.items():
                setattr(self, name, value)

        return write


class LRScheduler(ScheduleState):
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
        self.optimizer = check_optimizer(type(self).__name__, optimizer)
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


def per_group(owner: str, name: str, value: float | Sequence[float], groups: int) -> list[float]:
    """``value`` for each of ``groups`` parameter groups: one number for all, or a list
    or tuple of one per group; each a finite number >= 0, else `ValueError` naming it."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{owner}: expected {groups} values of {name} (one per parameter "
                         f"group), got {len(values)}")
    return [check_number(owner, name, v, "a finite number >= 0",
                         lambda x: 0 <= x < math.inf) for v in values]
