"""Callbacks for `fit` built on other modules: `LearningRateScheduler` steps a
`minigrad.lr_scheduler` schedule, `ModelCheckpoint` keeps the best model on disk."""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from typing import Any, Literal, cast

from typing_extensions import override

from minigrad.base import Module
from minigrad.io import Stateful, StrPath, save
from minigrad.lr_scheduler import LRScheduler, ReduceLROnPlateau
from minigrad.training import Callback, _inferred_mode


class LearningRateScheduler(Callback):
    """Step a `minigrad.lr_scheduler` schedule from `fit`, per epoch or per batch.

    Parameters
    ----------
    scheduler : LRScheduler or ReduceLROnPlateau
        Built on the optimizer given to `fit`.
    interval : "epoch" or "batch", default "epoch"
        When to call ``scheduler.step()``: after each epoch, or after each optimizer
        step (`OneCycleLR`, warm-ups counted in steps).
    monitor : str, default "val_loss"
        For `ReduceLROnPlateau` only: the logged quantity it watches (per epoch).

    Raises
    ------
    ValueError
        A bad ``interval``; `ReduceLROnPlateau` per batch; from `fit`: ``monitor``
        not logged, or the scheduler drives another optimizer.
    TypeError
        ``scheduler`` is not a scheduler.
    """

    def __init__(
        self,
        scheduler: LRScheduler | ReduceLROnPlateau,
        interval: Literal["epoch", "batch"] = "epoch",
        monitor: str = "val_loss",
    ) -> None:
        if not isinstance(scheduler, (LRScheduler, ReduceLROnPlateau)):
            raise TypeError(f"LearningRateScheduler: expected a scheduler from "
                            f"mg.lr_scheduler, got {type(scheduler).__name__}")
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: interval must be 'epoch' or 'batch', "
                             f"got {interval!r}")
        if interval == "batch" and isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError("LearningRateScheduler: ReduceLROnPlateau steps per epoch")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    @override
    def check_log_keys(self, keys: Collection[str]) -> None:
        if isinstance(self.scheduler, ReduceLROnPlateau) and self.monitor not in keys:
            raise ValueError(f"LearningRateScheduler: monitor {self.monitor!r} is not among "
                             f"the logged quantities {sorted(keys)}")

    @override
    def on_train_begin(self, model: Module[Any]) -> None:
        if self.scheduler.optimizer is not self.optimizer:
            raise ValueError("LearningRateScheduler: the scheduler drives another optimizer "
                             "than the one given to fit")

    @override
    def on_train_batch_end(self, batch: int, logs: Mapping[str, float]) -> None:
        if self.interval == "batch" and isinstance(self.scheduler, LRScheduler):
            self.scheduler.step()

    @override
    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(logs[self.monitor])
        elif self.interval == "epoch":
            self.scheduler.step()
        return False

    @override
    def __repr__(self) -> str:
        return f"LearningRateScheduler({self.scheduler!r}, interval={self.interval!r})"


class ModelCheckpoint(Callback):
    """Save the model to ``path`` (atomically, `mg.save`) after each epoch that improves a
    monitored quantity, so the file always holds the best model so far.

    An epoch *improves* when its value is below the best so far (``mode="min"``) or
    above it (``"max"``); the first finite value always does, NaN never does. Load the
    best model back with ``mg.load(model, path)``.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file, replaced at each save (its directory must exist).
    monitor : str, default "val_loss"
        A key of the epoch logs; ``fit`` needs ``validation_data`` for ``val_*`` keys.
    mode : "auto", "min" or "max", default "auto"
        Whether smaller or larger is better; "auto" reads it from the words of
        ``monitor`` as `EarlyStopping` does (``loss``, ``error``, ... "min";
        ``accuracy``, ``acc``, ... "max") and refuses a key it cannot tell.
    save_best_only : bool, default True
        False saves after every epoch (the file then holds the latest model), still
        recording the best value and epoch.

    Attributes
    ----------
    best : float
        The best monitored value so far (±inf before any epoch).
    best_epoch : int
        Its epoch (0-based); -1 before any epoch.

    Raises
    ------
    ValueError
        From the constructor: a bad ``mode``, or ``mode="auto"`` with a ``monitor`` whose
        direction it does not know. From `fit` (via `check_log_keys`), before any work:
        ``monitor`` is not a logged key.
    TypeError
        From the constructor: ``monitor`` not a str, or ``path`` not a path.
    OSError
        From `fit`: the file cannot be written (as `mg.save`).
    """

    def __init__(
        self,
        path: StrPath,
        monitor: str = "val_loss",
        mode: Literal["auto", "min", "max"] = "auto",
        save_best_only: bool = True,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: path must be a str or path-like, got {path!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"ModelCheckpoint: monitor must be a log key (str), got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.path, self.monitor, self.save_best_only = path, monitor, bool(save_best_only)
        self.mode = mode if mode != "auto" else _inferred_mode(monitor, "ModelCheckpoint")
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1

    @override
    def check_log_keys(self, keys: Collection[str]) -> None:
        if self.monitor not in keys:
            hint = " (pass validation_data to fit)" if self.monitor.startswith("val_") else ""
            raise ValueError(f"ModelCheckpoint: monitor {self.monitor!r} is not among the "
                             f"logged quantities {sorted(keys)}{hint}")

    @override
    def on_train_begin(self, model: Module[Any]) -> None:
        self._reset()

    @override
    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        current = logs[self.monitor]
        improves = current < self.best if self.mode == "min" else current > self.best
        if improves:  # False for NaN
            self.best, self.best_epoch = current, epoch
        if improves or not self.save_best_only:
            # cast: io.Stateful's load_state_dict returns None, Module's its key lists
            save(cast(Stateful, self.model), self.path)
        return False

    @override
    def __repr__(self) -> str:
        return (f"ModelCheckpoint({os.fspath(self.path)!r}, monitor={self.monitor!r}, "
                f"mode={self.mode!r}, save_best_only={self.save_best_only})")
