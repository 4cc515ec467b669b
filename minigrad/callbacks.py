"""Callbacks for `fit` built on other modules: `LearningRateScheduler` steps a
`minigrad.lr_scheduler` schedule, `ModelCheckpoint` keeps the best model on disk."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from typing_extensions import override

from minigrad.base import Module
from minigrad.lr_scheduler import LRScheduler, ReduceLROnPlateau
from minigrad.training import Callback


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
