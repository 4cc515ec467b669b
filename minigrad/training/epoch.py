"""One epoch of `fit`: the training pass over the batches (`train_epoch`), and the
validation pass (`evaluate`); the batch losses combined by the loss's reduction
(`EpochLoss`), and the stop on a non-finite loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from minigrad.core import Array, Layer, name_list
from minigrad.losses.loss import Loss
from minigrad.optim import Optimizer
from minigrad.optim.clip import clip_grad_norm
from minigrad.training.callbacks import Callback
from minigrad.training.history import LineProgress
from minigrad.training.metrics import Metric
from minigrad.training.parallel import ParallelRun
from minigrad.training.predict import predict

__all__ = ["EpochLoss", "check_finite_loss", "evaluate", "train_epoch"]


class EpochLoss:
    """Batch losses combined by the loss's reduction: for "mean" their mean weighted by
    batch size (the dataset mean), for "sum" their sum (the dataset sum)."""

    def __init__(self, loss_fn: Loss[Any]) -> None:
        self.summed = loss_fn.reduction == "sum"
        self.total = 0.0
        self.samples = 0

    def add(self, loss: float, n: int) -> None:
        self.total += loss if self.summed else loss * n
        self.samples += n

    @property
    def value(self) -> float:
        return self.total if self.summed else self.total / self.samples


def evaluate(
    model: Layer[Any],
    loss_fn: Loss[Any],
    X: Array,
    y: Array,
    batch_size: int,
    metrics: Mapping[str, Metric],
) -> dict[str, float]:
    """Validation logs: the loss weighted per sample as in training, metrics on all of X."""
    pred = predict(model, X, batch_size)
    epoch_loss = EpochLoss(loss_fn)
    n = X.shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)  # within n: the standard leaves others unspecified
        part = pred[start:stop, ...]
        epoch_loss.add(float(loss_fn(part, y[start:stop, ...])), part.shape[0])
    logs = {"val_loss": epoch_loss.value}
    for name, metric in metrics.items():
        logs["val_" + name] = float(metric(pred, y))
    return logs


def train_epoch(
    model: Layer[Any],
    loss_fn: Loss[Any],
    optimizer: Optimizer,
    data: Iterator[tuple[Array, Array]],
    metrics: Mapping[str, Metric],
    bar: LineProgress | None,
    where: str,
    steps: int,
    callbacks: Sequence[Callback],
    grad_clip: float | None,
    parallel: ParallelRun | None = None,
) -> dict[str, float]:
    """One pass over ``data``; returns the epoch's loss and sample-weighted metric means.

    Data-parallel (``parallel``), the loss is checked after the backward, once the
    processes' losses are combined: then every process stops at the same batch."""
    epoch_loss = EpochLoss(loss_fn)
    metric_sums = dict.fromkeys(metrics, 0.0)
    for index, (xb, yb) in enumerate(data):
        for callback in callbacks:
            callback.on_train_batch_begin(index)
        pred = model.forward(xb)
        loss = float(loss_fn.forward(pred, yb))  # a scalar: _check_loss refused "none"
        if parallel is None:  # before backward/step: the parameters stay as they are
            check_finite_loss(loss, where, index, steps, model, "backward and step")
        n = xb.shape[0]
        for name, metric in metrics.items():  # before the step: a failing one changes nothing
            try:
                metric_sums[name] += float(metric(pred, yb)) * n
            except (ValueError, TypeError) as exc:
                kind = ValueError if isinstance(exc, ValueError) else TypeError
                raise kind(
                    f"fit: metric {name!r} failed at {where}, batch {index + 1}/{steps}: {exc}"
                ) from exc
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())  # the input needs no gradient
        model.release()  # what the forward kept (a container released it as it went)
        if parallel is not None:  # the processes' mean gradients, and the global loss
            loss = parallel.reduce_gradients(loss)
            check_finite_loss(loss, where, index, steps, model, "step")
        if grad_clip is not None:
            clip_grad_norm(optimizer.params, grad_clip)
        optimizer.step()
        epoch_loss.add(loss, n)
        for callback in callbacks:
            callback.on_train_batch_end(index, {"loss": loss})
        if bar is not None:
            bar.batch_end(epoch_loss.value)
    logs = {"loss": epoch_loss.value}
    logs.update((name, total / epoch_loss.samples) for name, total in metric_sums.items())
    return logs


def check_finite_loss(loss: float, where: str, index: int, steps: int,
                       model: Layer[Any], skipped: str) -> None:
    """Stop on a non-finite batch loss, before the batch's ``skipped`` work."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"fit: the loss is {loss} at {where}, batch {index + 1}/{steps}; training "
            f"stopped before this batch's {skipped}{left_as(model, skipped)}"
        )


def left_as(model: Layer[Any], skipped: str) -> str:
    """What the non-finite stop leaves, said precisely: only a forward (and, data-parallel,
    the backward) has run."""
    text = (": the parameters, their gradients and the optimizer's state are as they were "
            "before this batch") if skipped != "step" else (
            ": the parameters and the optimizer's state are as they were before this batch "
            "(the gradients are this batch's)")
    buffers = [name for name, _ in model.named_buffers()]
    if buffers:  # a training-mode forward updates running statistics: not undone
        text += ("; its forward ran in training mode, so the buffers a forward updates "
                 f"(running statistics; the model's are {name_list(buffers)}) include it")
    return text
