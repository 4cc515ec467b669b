"""The training loop: `fit` and `predict` (its `History` is in `minigrad.training.history`, the
`Callback` hooks and `EarlyStopping` in `minigrad.training.callbacks`).

One training step on a mini-batch ``(xb, yb)`` is the four lines every example repeats::

    loss = loss_fn(model(xb), yb)
    optimizer.zero_grad()
    model.backward_params(loss_fn.backward())
    optimizer.step()

``backward_params`` rather than ``backward``: the model's input needs no gradient, so
that work (half of a `Dense`'s backward) is skipped. `fit` runs the step over `batches`
for a number of epochs and keeps the books: the mean loss and metrics per epoch, a
validation pass in evaluation mode, progress output and the callbacks' verdicts.

On every array library: a model moved with `Module.to` trains and predicts on data of
its library and device (``X``, ``y`` and the validation data; refused otherwise, naming
both), batches are shuffled from the same NumPy ``rng`` as at home, and the logged
losses and metrics are Python floats.

>>> import numpy as np, minigrad as mg
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = 2 * X
>>> model = mg.Sequential(mg.Dense(1, 1, rng=0))
>>> opt = mg.SGD(model.parameters(), lr=0.05)
>>> history = mg.fit(model, mg.MSELoss(), opt, X, y, epochs=200, batch_size=2,
...                  rng=0, progress=False)
>>> round(float(model[0].weight.data[0, 0]), 4), history.history["loss"][-1] < 1e-8
(2.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Layer, check_count, check_non_negative, describe, name_list
from minigrad.init import SeedLike, make_rng
from minigrad.losses.loss import Loss
from minigrad.optim import Optimizer
from minigrad.optim.clip import clip_grad_norm
from minigrad.training.callbacks import Callback, EarlyStopping
from minigrad.training.data import as_dataset, batches, check_batch_size, check_data
from minigrad.training.history import History, LineProgress, make_progress

if TYPE_CHECKING:  # imported by fit when asked for: it needs torch
    from minigrad.distributed import DataParallel, ParallelFit

__all__ = ["Callback", "EarlyStopping", "History", "Metric", "fit", "predict"]

Metric = Callable[[Array, Array], float]
"""``metric(pred, target) -> float``, logged under its ``__name__`` (e.g. `accuracy`)."""


# -- prediction ----------------------------------------------------------------------


def predict(model: Layer[Any], X: npt.ArrayLike, batch_size: int = 256) -> Array:
    """The model's outputs for ``X``, computed in evaluation mode, ``batch_size`` rows at
    a time.

    The model is left as it was: its modes, and the per-use state a pending
    ``backward`` needs (`Module.stash` before, `Module.unstash` after), so predicting
    between a forward and its backward does not change that backward.

    Parameters
    ----------
    model : Layer
    X : array_like, shape ``(N, ...)``
        The inputs, one row per sample.
    batch_size : int >= 1, default 256
        Rows per forward; bounds the memory of the intermediate activations.

    Returns
    -------
    array of ``X``'s library, shape ``(N, ...)``
        The outputs of all batches, in the order of ``X`` (for another library than
        NumPy joined with ``xp.concat``).

    Raises
    ------
    TypeError
        ``model`` is not a `Layer`.
    ValueError
        ``batch_size`` not an int >= 1, or ``X`` a scalar or empty.
    TypeError, ValueError, RuntimeError
        The model's errors for a bad input, as it raises them (a `Sequential` prepends
        the path to the failing layer).
    """
    _check_type("predict", "model", model, Layer, "a minigrad Layer (a Sequential, a Graph, "
                "a layer)")
    data: Any = X if backend.is_foreign(X) else np.asarray(X)
    size = check_batch_size("predict", batch_size)
    if data.ndim == 0 or data.shape[0] == 0:
        raise ValueError(
            f"predict: X must hold at least one sample, got shape {tuple(data.shape)}")
    pending = model.stash()
    with model.mode(training=False):
        try:
            if type(data) is not np.ndarray:
                n = data.shape[0]  # stops within n: the standard leaves others unspecified
                parts = [model.forward(data[start : min(start + size, n), ...])
                         for start in range(0, n, size)]
                return parts[0] if len(parts) == 1 else backend.namespace(*parts).concat(parts)
            first = model.forward(data[:size])
            out = np.empty((len(data), *first.shape[1:]), dtype=first.dtype)
            out[: len(first)] = first
            for start in range(size, len(data), size):
                out[start : start + size] = model.forward(data[start : start + size])
        finally:
            model.unstash(pending)
    return out


# -- fit ---------------------------------------------------------------------------------


def _named_metrics(metrics: Sequence[Metric | tuple[str, Metric]]) -> dict[str, Metric]:
    """Metrics by log name: a function's ``__name__``, or the name of a (name, fn) pair."""
    named: dict[str, Metric] = {}
    for item in metrics:
        name, metric = item if isinstance(item, tuple) else (getattr(item, "__name__", None), item)
        if not callable(metric) or not isinstance(name, str):
            raise TypeError(
                f"fit: each metric must be a named function or a (name, function) pair, "
                f"got {item!r}"
            )
        if name in named or name == "loss":
            raise ValueError(f"fit: metric names must be unique and not 'loss', got {name!r}")
        named[name] = metric
    return named


class _EpochLoss:
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


def _dataset(
    owner: str, X: npt.ArrayLike, y: npt.ArrayLike, finite: bool
) -> tuple[Array, Array]:
    """``(X, y)`` as arrays of equal, non-zero length and real (finite) values."""
    arrays = as_dataset(owner, X, y)
    if arrays[0].shape[0] == 0:
        raise ValueError(f"{owner}: the data is empty")
    for name, array in zip("Xy", arrays):
        check_data(owner, name, array, finite=finite)
    return arrays


def _validation_set(validation_data: object, finite: bool) -> tuple[Array, Array]:
    if not isinstance(validation_data, tuple) or len(validation_data) != 2:
        raise TypeError("fit: validation_data must be a tuple (X_val, y_val)")
    return _dataset("fit (validation_data)", *validation_data, finite)


def _evaluate(
    model: Layer[Any],
    loss_fn: Loss[Any],
    X: Array,
    y: Array,
    batch_size: int,
    metrics: Mapping[str, Metric],
) -> dict[str, float]:
    """Validation logs: the loss weighted per sample as in training, metrics on all of X."""
    pred = predict(model, X, batch_size)
    epoch_loss = _EpochLoss(loss_fn)
    n = X.shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)  # within n: the standard leaves others unspecified
        part = pred[start:stop, ...]
        epoch_loss.add(float(loss_fn(part, y[start:stop, ...])), part.shape[0])
    logs = {"val_loss": epoch_loss.value}
    for name, metric in metrics.items():
        logs["val_" + name] = float(metric(pred, y))
    return logs


def fit(
    model: Layer[Any],
    loss_fn: Loss[Any],
    optimizer: Optimizer,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    epochs: int,
    batch_size: int = 32,
    shuffle: bool = True,
    rng: SeedLike = None,
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    metrics: Sequence[Metric | tuple[str, Metric]] = (),
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    check_finite: bool = True,
    grad_clip: float | None = None,
    data_parallel: bool | DataParallel = False,
) -> History:
    """Train ``model`` on ``(X, y)`` by mini-batch gradient descent for ``epochs`` epochs.

    Each epoch runs the model in training mode over `batches` of ``(X, y)``; per batch:
    forward, loss, ``optimizer.zero_grad()``, backward, ``optimizer.step()``. The epoch's
    ``"loss"`` combines the batch losses by the loss's reduction: for ``"mean"`` their
    mean weighted by batch size (the dataset mean), for ``"sum"`` their sum (the dataset
    sum). Each metric is a batch-size-weighted mean, measured on the fly
    while the weights change (as Keras does). With ``validation_data`` the model is then
    run in evaluation mode on it, giving ``"val_loss"`` and ``"val_<metric>"``.
    Afterwards every module is back in the mode it had before and the caches are cleared.

    Parameters
    ----------
    model : Layer
    loss_fn : Loss
    optimizer : Optimizer
        Built on (some of) ``model``'s parameters (after moving the model).
    X, y : array_like, shapes ``(N, ...)``
        Training inputs and targets: arrays of the model's library and device (NumPy
        array-likes for a NumPy model).
    epochs : int >= 0
    batch_size : int >= 1, default 32
    shuffle : bool, default True
        A new random sample order every epoch.
    rng : int, numpy Generator or RandomState, optional
        Source of the shuffling; a fixed seed makes training reproducible.
    validation_data : (X_val, y_val), optional
    metrics : sequence of callables ``(pred, target) -> float`` or (name, callable) pairs
        E.g. ``[mg.accuracy]``, logged under the function's ``__name__``, or
        ``[("acc", functools.partial(mg.accuracy, threshold=0))]``.
    callbacks : sequence of Callback
        E.g. ``[mg.EarlyStopping(patience=5)]``.
    progress : bool, default True
        Show progress: a live tqdm bar per epoch if tqdm is installed and stderr is a
        terminal (or a widget bar in Jupyter, with ipywidgets), otherwise one summary line
        per epoch on stderr. False prints nothing.
    check_finite : bool, default True
        Refuse NaN or ±inf in ``X``, ``y`` and the validation data, naming the first bad
        row (one vectorized pass per `fit` call). False skips the pass, for speed on
        data known to be clean; a bad value then surfaces as the non-finite loss stop.
    grad_clip : float >= 0, optional
        Clip the gradients of the optimizer's parameters to this joint L2 norm before
        each step (`clip_grad_norm`, PyTorch's ``clip_grad_norm_``).
    data_parallel : bool or minigrad.distributed.DataParallel, default False
        Train across the processes of a ``torch.distributed`` process group (started
        in every process by ``init_process_group``; needs PyTorch): every process runs
        this `fit` call on the same whole dataset and trains on its shard of each epoch,
        ``batch_size`` samples per process and step; the gradients are averaged after
        each backward and the logs combined, so every process ends with the same model
        and `History` -- that of one process with batch size ``P·batch_size``. Rank 0
        shows the progress and writes checkpoints. See
        `minigrad.distributed.DataParallel` and docs/distributed.md.

    Returns
    -------
    History
        The per-epoch logs.

    Raises
    ------
    TypeError
        Before any work: ``model`` is not a `Layer`, ``loss_fn`` not a `Loss` or
        ``optimizer`` not an `Optimizer` (a plain function, say), naming what it got.
    ValueError, TypeError
        Before any work: ``epochs < 0``, ``batch_size < 1``, mismatched lengths, empty
        data, data of another array library or device than the model's parameters
        (TypeError, naming both), data of a non-real dtype, NaN or ±inf in the data (with
        ``check_finite``), bad metrics or callbacks (including an `EarlyStopping`
        monitoring a key that will not be logged).
    ValueError
        Before any work: the optimizer holds none of the model's parameters, or the loss
        has ``reduction="none"``.
    ValueError, TypeError
        During training: a metric's ValueError or TypeError, re-raised as the same type
        naming the metric, the epoch and the batch.
    TypeError, ValueError, RuntimeError, KeyError
        During training: the model's or loss's errors, as they raise them (a
        `Sequential` prepends the path to the failing layer).
    FloatingPointError
        A batch's loss is not finite; its message names the epoch and batch. The loss
        is computed before that batch's backward and step, so the parameters and the
        optimizer's state are as they were before that batch (and so are the gradients,
        except data-parallel, where the loss is known only with the averaged gradients);
        its forward has run in training mode, so buffers a forward updates
        (`BatchNorm1D`'s running statistics) include it -- the message names the model's
        buffers, if it has any.
    RuntimeError
        With ``data_parallel``: no process group; `minigrad.distributed.CollectiveError`
        when another process dies or stops answering within the group's timeout.
    """
    _check_type("fit", "model", model, Layer, "a minigrad Layer (a Sequential, a Graph, a "
                "layer)")
    _check_type("fit", "loss_fn", loss_fn, Loss, "a minigrad Loss (mg.MSELoss(), "
                "mg.CrossEntropyLoss(), your subclass of mg.Loss)")
    _check_type("fit", "optimizer", optimizer, Optimizer, "a minigrad Optimizer (mg.SGD, "
                "mg.Adam, ... built on model.parameters())")
    epochs = check_count("fit", "epochs", epochs, 0)
    size = check_batch_size("fit", batch_size)
    X, y = _dataset("fit", X, y, check_finite)
    validation = (
        None if validation_data is None else _validation_set(validation_data, check_finite)
    )
    _check_data_place(model, X, "X")
    if validation is not None:
        _check_data_place(model, validation[0], "validation X")
    for name, value in (("metrics", metrics), ("callbacks", callbacks)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"fit: {name} must be a list or tuple, got {value!r}")
    named = _named_metrics(metrics)
    keys = ["loss", *named]
    if validation is not None:
        keys += ["val_" + key for key in keys]
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"fit: callbacks must be Callback instances, got {callback!r}")
        callback.check_log_keys(keys)
    _check_optimizer_trains(model, optimizer)
    _check_loss(loss_fn)
    clip = None if grad_clip is None else check_non_negative("fit", "grad_clip", grad_clip)

    generator = make_rng(rng) if shuffle else None
    parallel: ParallelFit | None = None
    if data_parallel is not False:
        from minigrad.distributed import DataParallel  # imports torch when called

        parallel = DataParallel.of(data_parallel).begin(
            model, optimizer, loss_fn, X, y, batch_size=size, epochs=epochs,
            shuffle=shuffle, validation=validation)
    steps = math.ceil(X.shape[0] / size) if parallel is None else parallel.steps(size)
    history = History()
    bar = make_progress(progress and (parallel is None or parallel.is_main), int(epochs))
    for callback in callbacks:
        callback.set_context(model, optimizer)
        callback.is_main_process = parallel is None or parallel.is_main
        callback.on_train_begin(model)
    try:
        with model.mode(training=True):
            for epoch in range(epochs):
                if bar is not None:
                    bar.begin_epoch(epoch, steps)
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                data = (batches(X, y, size, shuffle=shuffle, rng=generator) if parallel is None
                        else parallel.batches(X, y, size, shuffle, generator))
                where = f"epoch {epoch + 1}/{epochs}"
                logs = _train_epoch(model, loss_fn, optimizer, data, named, bar, where, steps,
                                    callbacks, clip, parallel)
                if parallel is not None:
                    logs = parallel.combine_metrics(logs)
                if validation is not None and parallel is not None:  # a part per process
                    logs.update(parallel.evaluate(
                        lambda Xv, yv: _evaluate(model, loss_fn, Xv, yv, size, named),
                        *validation, [key for key in keys if key.startswith("val_")]))
                elif validation is not None:
                    logs.update(_evaluate(model, loss_fn, *validation, size, named))
                history.append(epoch, logs)
                if bar is not None:
                    bar.end_epoch(epoch, logs)
                stop = [callback.on_epoch_end(epoch, logs) for callback in callbacks]
                if any(stop):
                    break
    finally:
        if bar is not None:
            bar.close()
        model.clear_cache()
    for callback in callbacks:
        callback.on_train_end()
    return history


def _check_type(owner: str, name: str, value: object, kind: type, expected: str) -> None:
    """Refuse an argument that is not a ``kind`` at the call, rather than with an
    AttributeError deep inside the loop."""
    if not isinstance(value, kind):
        raise TypeError(f"{owner}: {name} must be {expected}, got {describe(value)}")


def _check_data_place(model: Layer[Any], X: Array, name: str) -> None:
    """Refuse data of another library or device than the model's parameters, before any
    work (the first layer would refuse it too, but only after callbacks began)."""
    params = model.parameters()
    if params and (backend.is_foreign(X) or backend.is_foreign(params[0].data)) and (
            not backend.same_place(X, params[0].data)):
        raise TypeError(
            f"fit: the model's parameters are {backend.describe(params[0].data)}, {name} is "
            f"{backend.describe(X)}; move the data there (minigrad never copies across "
            "libraries or devices behind your back), or the model with model.to(...)"
        )


def _check_loss(loss_fn: Loss[Any]) -> None:
    """Refuse a loss that returns per-element losses: `fit` steps on one number per
    batch."""
    if loss_fn.reduction == "none":
        raise ValueError(
            f"fit: {loss_fn!r} returns per-element losses; fit needs one number per batch: "
            "use reduction='mean' or 'sum'"
        )


def _check_optimizer_trains(model: Layer[Any], optimizer: Optimizer) -> None:
    """Refuse an optimizer that holds none of the model's parameters (built for another
    model, say): training would silently change nothing."""
    ours = {id(param) for param in model.parameters()}
    if ours and not ours.intersection(id(param) for param in optimizer.params):
        raise ValueError(
            f"fit: the optimizer holds none of the model's {len(ours)} parameters; build it "
            "from model.parameters()"
        )


def _left_as(model: Layer[Any], skipped: str) -> str:
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


def _train_epoch(
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
    parallel: ParallelFit | None = None,
) -> dict[str, float]:
    """One pass over ``data``; returns the epoch's loss and sample-weighted metric means.

    Data-parallel (``parallel``), the loss is checked after the backward, once the
    processes' losses are combined: then every process stops at the same batch."""
    epoch_loss = _EpochLoss(loss_fn)
    metric_sums = dict.fromkeys(metrics, 0.0)
    for index, (xb, yb) in enumerate(data):
        for callback in callbacks:
            callback.on_train_batch_begin(index)
        pred = model.forward(xb)
        loss = float(loss_fn.forward(pred, yb))  # a scalar: _check_loss refused "none"
        if parallel is None:  # before backward/step: the parameters stay as they are
            _check_finite_loss(loss, where, index, steps, model, "backward and step")
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
        if parallel is not None:  # the processes' mean gradients, and the global loss
            loss = parallel.reduce_gradients(loss)
            _check_finite_loss(loss, where, index, steps, model, "step")
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


def _check_finite_loss(loss: float, where: str, index: int, steps: int,
                       model: Layer[Any], skipped: str) -> None:
    """Stop on a non-finite batch loss, before the batch's ``skipped`` work."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"fit: the loss is {loss} at {where}, batch {index + 1}/{steps}; training "
            f"stopped before this batch's {skipped}{_left_as(model, skipped)}"
        )
