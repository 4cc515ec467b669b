"""One epoch of `fit`: the training pass over the batches (`train_epoch`), and the
validation pass (`evaluate`); the batch losses combined by the loss's reduction
(`EpochLoss`), and the stop on a non-finite loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.core import Array, Layer, name_list
from minigrad.losses.loss import Loss
from minigrad.optim import Optimizer
from minigrad.optim.clip import clip_grad_norm
from minigrad.training.callbacks import Callback
from minigrad.training.history import LineProgress
from minigrad.training.metrics import Metric
from minigrad.training.parallel import ParallelRun
from minigrad.training.predict import predict
from minigrad.training.sources import Batch
from minigrad.training.weights import WeightedLoss

__all__ = ["EpochLoss", "batch_name", "check_finite_loss", "evaluate", "evaluate_batches",
           "joined", "train_epoch"]


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


def evaluate_batches(
    model: Layer[Any],
    loss_fn: Loss[Any],
    data: Iterator[Batch],
    metrics: Mapping[str, Metric],
) -> dict[str, float]:
    """`evaluate` on batches (from a dataset, an iterable, or weighted arrays): a batch's
    sample weights weight its loss (`WeightedLoss`; class weights are for training
    only, as in Keras); the metrics are computed on all predictions and targets joined."""
    epoch_loss = EpochLoss(loss_fn)
    weighted = WeightedLoss(loss_fn, None)
    preds: list[Array] = []
    targets: list[Array] = []
    for xb, yb, wb in data:
        pred = predict(model, xb, xb.shape[0])
        loss = loss_fn.forward(pred, yb) if wb is None else weighted.forward(pred, yb, wb)
        epoch_loss.add(float(loss), xb.shape[0])
        if metrics:
            preds.append(pred)
            targets.append(yb)
    if not epoch_loss.samples:
        raise ValueError("fit: validation_data gave no batches")
    logs = {"val_loss": epoch_loss.value}
    if metrics:
        pred, target = joined(preds), joined(targets)
        for name, metric in metrics.items():
            logs["val_" + name] = float(metric(pred, target))
    return logs


def joined(parts: list[Array]) -> Array:
    """Batches joined along the first axis, in their library."""
    if len(parts) == 1:
        return parts[0]
    if type(parts[0]) is np.ndarray:
        return np.concatenate(parts)
    concatenated: Array = backend.namespace(*parts).concat(parts)
    return concatenated


def _with_last(data: Iterator[Batch]) -> Iterator[tuple[Batch, bool]]:
    """Each batch and whether it is the epoch's last: one batch drawn ahead, so an
    accumulation group that the epoch cuts short still steps."""
    iterator = iter(data)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following is None
        current = following


def train_epoch(
    model: Layer[Any],
    loss_fn: Loss[Any],
    optimizer: Optimizer,
    data: Iterator[Batch],
    metrics: Mapping[str, Metric],
    bar: LineProgress | None,
    where: str,
    steps: int | None,
    callbacks: Sequence[Callback],
    grad_clip: float | None,
    parallel: ParallelRun | None = None,
    weighting: WeightedLoss | None = None,
    accumulate: int = 1,
) -> dict[str, float]:
    """One pass over ``data``; returns the epoch's loss and sample-weighted metric means
    (the metrics unweighted by sample or class weights, as Keras's ``metrics``).

    A batch with sample weights, or any batch given ``weighting`` with class weights, is
    scored by ``weighting`` (`WeightedLoss`), the others by ``loss_fn``.

    ``accumulate`` k > 1: the optimizer steps after every k batches (and after the
    epoch's last), on the gradient of their joined loss -- that of one batch of all
    their samples: each batch's backward is of its summed loss (``grad=D``, its mean's
    divisor), and before the step the gradients are divided by the group's total ``D``
    (for "sum", summed as they are).

    Data-parallel (``parallel``), the loss is checked after the backward, once the
    processes' losses are combined: then every process stops at the same batch."""
    epoch_loss = EpochLoss(loss_fn)
    metric_sums = dict.fromkeys(metrics, 0.0)
    mean = loss_fn.reduction != "sum"
    group_denominator = 0.0
    for index, ((xb, yb, wb), last) in enumerate(_with_last(data)):
        first_in_group = index % accumulate == 0
        for callback in callbacks:
            callback.on_train_batch_begin(index)
        pred = model.forward(xb)
        weighted = weighting is not None and (wb is not None or
                                              weighting.class_weight is not None)
        criterion: Loss[Any] | WeightedLoss = loss_fn
        if weighted:
            assert weighting is not None
            criterion = weighting
            loss = weighting.forward(pred, yb, wb)
        else:
            loss = float(loss_fn.forward(pred, yb))  # a scalar: _check_loss refused "none"
        if parallel is None:  # before backward/step: the parameters stay as they are
            check_finite_loss(loss, where, index, steps, model, "backward and step",
                              accumulated=not first_in_group)
        n = xb.shape[0]
        for name, metric in metrics.items():  # before the step: a failing one changes nothing
            try:
                metric_sums[name] += float(metric(pred, yb)) * n
            except (ValueError, TypeError) as exc:
                kind = ValueError if isinstance(exc, ValueError) else TypeError
                raise kind(f"fit: metric {name!r} failed at {where}, "
                           f"{batch_name(index, steps)}: {exc}") from exc
        if first_in_group:
            optimizer.zero_grad()
            group_denominator = 0.0
        if accumulate > 1 and mean:  # the gradient of the summed loss: grad = D
            group_denominator += criterion.denominator
            model.backward_params(criterion.backward(criterion.denominator))
        else:
            model.backward_params(criterion.backward())  # the input needs no gradient
        if not model.releases_in_backward:  # a container released each layer as it went
            model.release()
        if parallel is not None:  # the processes' mean gradients, and the global loss
            loss = parallel.reduce_gradients(loss)
            check_finite_loss(loss, where, index, steps, model, "step")
        if last or (index + 1) % accumulate == 0:
            if accumulate > 1 and mean:
                for param in optimizer.params:
                    param.grad /= group_denominator
            if grad_clip is not None:
                clip_grad_norm(optimizer.params, grad_clip)
            optimizer.step()
            for callback in callbacks:
                callback.on_optimizer_step(index // accumulate)
        epoch_loss.add(loss, n)
        for callback in callbacks:
            callback.on_train_batch_end(index, {"loss": loss})
        if bar is not None:
            bar.batch_end(epoch_loss.value)
    if not epoch_loss.samples:
        return {}
    logs = {"loss": epoch_loss.value}
    logs.update((name, total / epoch_loss.samples) for name, total in metric_sums.items())
    return logs


def batch_name(index: int, steps: int | None) -> str:
    """``"batch 3/10"`` (``"batch 3"`` when the number of batches is not known)."""
    return f"batch {index + 1}" + ("" if steps is None else f"/{steps}")


def check_finite_loss(loss: float, where: str, index: int, steps: int | None,
                      model: Layer[Any], skipped: str, accumulated: bool = False) -> None:
    """Stop on a non-finite batch loss, before the batch's ``skipped`` work
    (``accumulated``: the gradients hold earlier batches of its accumulation group)."""
    if not math.isfinite(loss):
        left = left_as(model, skipped, accumulated)
        raise FloatingPointError(
            f"fit: the loss is {loss} at {where}, {batch_name(index, steps)}; training "
            f"stopped before this batch's {skipped}{left}"
        )


def left_as(model: Layer[Any], skipped: str, accumulated: bool = False) -> str:
    """What the non-finite stop leaves, said precisely: only a forward (and, data-parallel,
    the backward) has run."""
    if accumulated:
        text = (": the parameters and the optimizer's state are as they were before this "
                "batch (the gradients hold the earlier batches of its accumulation group)")
    elif skipped != "step":
        text = (": the parameters, their gradients and the optimizer's state are as they "
                "were before this batch")
    else:
        text = (": the parameters and the optimizer's state are as they were before this "
                "batch (the gradients are this batch's)")
    buffers = [name for name, _ in model.named_buffers()]
    if buffers:  # a training-mode forward updates running statistics: not undone
        text += ("; its forward ran in training mode, so the buffers a forward updates "
                 f"(running statistics; the model's are {name_list(buffers)}) include it")
    return text
