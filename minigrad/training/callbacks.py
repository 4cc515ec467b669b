"""Callbacks for `fit`: the `Callback` hooks, `EarlyStopping`, `LearningRateScheduler`
(steps a `minigrad.optim.lr_scheduler` schedule) and `ModelCheckpoint` (keeps the best model on
disk)."""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from typing import Any, Literal, cast

from typing_extensions import override

from minigrad.core import Array, Module, check_count, check_non_negative, name_list
from minigrad.io.atomic import StrPath
from minigrad.io.npz import Stateful, save
from minigrad.optim import Optimizer
from minigrad.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau


class Callback:
    """Hooks `fit` calls during training; subclass and override the ones you need.

    Order, with Keras's names: `set_context` and `on_train_begin` once; per epoch
    `on_epoch_begin`, then per batch `on_train_batch_begin`, `on_optimizer_step` (when
    the optimizer stepped after it) and `on_train_batch_end`, then `on_epoch_end`
    (training, validation and logging done); `on_train_end` once when training ends
    normally (not when it is stopped by an exception). Every hook may read `model` and
    `optimizer`: a per-batch learning-rate schedule or gradient logging needs no
    optimizer subclass.

    No ``__init__`` is needed (nor a ``super().__init__()`` call in yours).
    """

    model: Module[Any]
    """The model `fit` is training (set by `set_context`, before `on_train_begin`)."""
    optimizer: Optimizer
    """The optimizer `fit` is stepping (set by `set_context`)."""
    is_main_process: bool = True
    """False in every process of a data-parallel `fit` but rank 0 (set by `fit`): they
    all hold the same model and logs, so a callback that writes files or prints acts
    only where this is True, as `ModelCheckpoint` does."""

    def set_context(self, model: Module[Any], optimizer: Optimizer) -> None:
        """Called by `fit` first: sets `model` and `optimizer`."""
        self.model, self.optimizer = model, optimizer

    def check_log_keys(self, keys: Collection[str]) -> None:
        """Before any work: raise `ValueError` if a quantity this callback needs will not
        be among the logged ``keys`` (those of `History.history`)."""

    def on_train_begin(self, model: Module[Any]) -> None:
        """Training starts on ``model`` (also available as `model`)."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Epoch ``epoch`` (0-based) starts."""

    def on_train_batch_begin(self, batch: int) -> None:
        """Batch ``batch`` (0-based, within the epoch) starts."""

    def on_optimizer_step(self, step: int) -> None:
        """The optimizer took step ``step`` (0-based, within the epoch). One per batch,
        before that batch's `on_train_batch_end`; with ``fit(...,
        accumulate_grad_batches=k)`` one per k batches (and after an epoch's last batch):
        count training steps here (a per-step learning-rate schedule)."""

    def on_train_batch_end(self, batch: int, logs: Mapping[str, float]) -> None:
        """Batch ``batch`` ended (after the optimizer step, if one followed it:
        `on_optimizer_step`); ``logs["loss"]`` is its loss (the gradients of this batch
        are still in ``param.grad``, summed with the group's earlier batches when
        accumulating)."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Epoch ``epoch`` (0-based) ended with ``logs`` (the keys of `History.history`).

        Return True to stop training after this epoch.
        """
        return False

    def on_train_end(self) -> None:
        """Training ended: all epochs ran or a callback asked to stop."""


_LOWER_IS_BETTER = frozenset({"loss", "error", "err", "mse", "mae", "rmse"})
_HIGHER_IS_BETTER = frozenset({"accuracy", "acc", "auc", "f1", "precision", "recall", "r2"})
"""The words of log keys whose direction EarlyStopping's "auto" mode knows."""


def _inferred_mode(monitor: str, owner: str = "EarlyStopping") -> Literal["min", "max"]:
    """"min" or "max" from the words of ``monitor`` (split at ``_``, ``val_`` ignored):
    a loss or error word gives "min", a score word "max"; anything else is refused."""
    words = set(monitor.lower().split("_")) - {"val"}
    lower, higher = words & _LOWER_IS_BETTER, words & _HIGHER_IS_BETTER
    if bool(lower) != bool(higher):
        return "min" if lower else "max"
    raise ValueError(
        f"{owner}: cannot tell whether larger or smaller is better for monitor "
        f"{monitor!r}; pass mode='min' or mode='max' (mode='auto' knows the words "
        f"{sorted(_LOWER_IS_BETTER)} as smaller-is-better and "
        f"{sorted(_HIGHER_IS_BETTER)} as larger-is-better)"
    )


class EarlyStopping(Callback):
    """Stop when a monitored quantity has not improved for ``patience`` epochs.

    An epoch *improves* when ``current < best - min_delta`` (for ``mode="min"``, or
    ``current > best + min_delta`` for ``"max"``); the first epoch always does. After
    ``patience`` epochs in a row without improvement, training stops (Keras semantics).

    Parameters
    ----------
    patience : int >= 0
        Epochs without improvement to tolerate before stopping.
    monitor : str, default "val_loss"
        A key of the epoch logs; ``fit`` needs ``validation_data`` for ``val_*`` keys.
    min_delta : float >= 0, default 0
        The smallest change that counts as an improvement.
    mode : "auto", "min" or "max", default "auto"
        Whether smaller or larger is better. "auto" reads it from the words of
        ``monitor`` (split at ``_``; ``val_`` ignored) and only from words it knows:
        ``loss``, ``error``, ``err``, ``mse``, ``mae``, ``rmse`` give "min";
        ``accuracy``, ``acc``, ``auc``, ``f1``, ``precision``, ``recall``, ``r2`` give
        "max". Any other key (or one with words of both kinds) is refused rather than
        guessed: pass "min" or "max" for it.
    restore_best_weights : bool, default False
        When training ends, load the parameters of the best epoch back into the model.

    Attributes
    ----------
    best : float
        The best monitored value so far.
    best_epoch : int
        Its epoch (0-based); -1 before any epoch.
    stopped_epoch : int or None
        The epoch after which this callback stopped training, if it did.

    Raises
    ------
    ValueError
        From the constructor: ``patience`` not an int >= 0, ``min_delta`` not a finite
        number >= 0, ``mode`` not "auto", "min" or "max", or ``mode="auto"`` with a
        ``monitor`` whose direction it does not know. From `fit` (via
        `check_log_keys`), before any work: ``monitor`` is not a logged key.
    TypeError
        From the constructor: ``monitor`` is not a str.
    """

    def __init__(
        self,
        patience: int = 0,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        mode: Literal["auto", "min", "max"] = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.patience = check_count("EarlyStopping", "patience", patience, 0)
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a log key (str), got {monitor!r}")
        self.min_delta = check_non_negative("EarlyStopping", "min_delta", min_delta)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode if mode != "auto" else _inferred_mode(monitor)
        self.restore_best_weights = restore_best_weights
        self._model: Module[Any] | None = None
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._best_weights: dict[str, Array] | None = None

    @override
    def on_train_begin(self, model: Module[Any]) -> None:
        self._model = model
        self._reset()

    @override
    def check_log_keys(self, keys: Collection[str]) -> None:
        if self.monitor not in keys:
            hint = " (pass validation_data to fit)" if self.monitor.startswith("val_") else ""
            raise ValueError(
                f"EarlyStopping: monitor {self.monitor!r} is not among the logged "
                f"quantities {name_list(sorted(keys))}{hint}"
            )

    @override
    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        self.check_log_keys(logs.keys())
        current = logs[self.monitor]
        if self._improves(current):
            self.best, self.best_epoch, self._wait = current, epoch, 0
            if self.restore_best_weights and self._model is not None:
                self._best_weights = self._model.state_dict()
            return False
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def _improves(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    @override
    def on_train_end(self) -> None:
        if self._best_weights is not None and self._model is not None:
            self._model.load_state_dict(self._best_weights)
            self._best_weights = None

    @override
    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, "
            f"restore_best_weights={self.restore_best_weights})"
        )


class LearningRateScheduler(Callback):
    """Step a `minigrad.optim.lr_scheduler` schedule from `fit`, per epoch or per batch.

    Parameters
    ----------
    scheduler : LRScheduler or ReduceLROnPlateau
        Built on the optimizer given to `fit`.
    interval : "epoch" or "batch", default "epoch"
        When to call ``scheduler.step()``: after each epoch, or after each optimizer
        step (`OneCycleLR`, warm-ups counted in steps) -- each batch, or each group of
        k batches with ``fit(..., accumulate_grad_batches=k)``.
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
                             f"the logged quantities {name_list(sorted(keys))}")

    @override
    def on_train_begin(self, model: Module[Any]) -> None:
        if self.scheduler.optimizer is not self.optimizer:
            raise ValueError("LearningRateScheduler: the scheduler drives another optimizer "
                             "than the one given to fit")

    @override
    def on_optimizer_step(self, step: int) -> None:
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
    monitored quantity, so the file always holds the best model so far. In a
    data-parallel `fit` only rank 0 writes (`Callback.is_main_process`).

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
                             f"logged quantities {name_list(sorted(keys))}{hint}")

    @override
    def on_train_begin(self, model: Module[Any]) -> None:
        self._reset()

    @override
    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        current = logs[self.monitor]
        improves = current < self.best if self.mode == "min" else current > self.best
        if improves:  # False for NaN
            self.best, self.best_epoch = current, epoch
        if (improves or not self.save_best_only) and self.is_main_process:
            # cast: io.Stateful's load_state_dict returns None, Module's its key lists
            save(cast(Stateful, self.model), self.path)
        return False

    @override
    def __repr__(self) -> str:
        return (f"ModelCheckpoint({os.fspath(self.path)!r}, monitor={self.monitor!r}, "
                f"mode={self.mode!r}, save_best_only={self.save_best_only})")
