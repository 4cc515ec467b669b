"""The training loop: `fit`, its `History`, `Callback` hooks with `EarlyStopping`, `predict`.

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

import importlib
import math
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from minigrad import backend
from minigrad.base import Array, Layer, Module, check_count, check_non_negative
from minigrad.clip import clip_grad_norm
from minigrad.data import as_dataset, batches, check_batch_size, check_data
from minigrad.init import SeedLike, make_rng
from minigrad.losses import Loss
from minigrad.optimizers import Optimizer

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
    ValueError
        ``batch_size`` not an int >= 1, or ``X`` a scalar or empty.
    TypeError, ValueError, RuntimeError
        The model's errors for a bad input, as it raises them (a `Sequential` prepends
        the path to the failing layer).
    """
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


# -- history and callbacks -------------------------------------------------------------


class History:
    """What `fit` measured, epoch by epoch.

    Attributes
    ----------
    history : dict of str to list of float
        One list per quantity, one entry per completed epoch: ``"loss"``, each metric by
        name, and with validation data ``"val_loss"`` and ``"val_<metric>"``.
    epoch : list of int
        The (0-based) indices of the completed epochs.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record the logs of one completed epoch."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: str | None = None, keys: Sequence[str] | None = None) -> Any:
        """Draw each quantity per epoch, training and validation (``val_*``) together.

        One panel per quantity (``"loss"`` first, then each metric), the validation
        curve dashed beside the training one. Needs matplotlib (the ``examples``
        extra), imported only here.

        Parameters
        ----------
        path : str, optional
            Save the figure there (e.g. a ``.png``) as well as returning it.
        keys : sequence of str, optional
            The quantities to draw (without ``val_``); default: all training ones.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            matplotlib is not installed.
        ValueError
            Nothing recorded yet, or a key that was not logged.
        """
        try:
            pyplot = importlib.import_module("matplotlib.pyplot")
        except ImportError as exc:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from exc
        names = [k for k in self.history if not k.startswith("val_")] if keys is None else keys
        if not self.epoch or not names:
            raise ValueError("History.plot: nothing recorded yet")
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(f"History.plot: {unknown} not logged; keys: {list(self.history)}")
        figure, axes = pyplot.subplots(1, len(names), figsize=(4.5 * len(names), 3.5),
                                       squeeze=False)
        epochs = [epoch + 1 for epoch in self.epoch]
        for axis, name in zip(axes[0], names):
            axis.plot(epochs, self.history[name], label="training")
            if "val_" + name in self.history:
                axis.plot(epochs, self.history["val_" + name], "--", label="validation")
            axis.set_xlabel("epoch")
            axis.set_title(name)
            axis.grid(alpha=0.3)
            axis.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class Callback:
    """Hooks `fit` calls during training; subclass and override the ones you need.

    Order, with Keras's names: `set_context` and `on_train_begin` once; per epoch
    `on_epoch_begin`, then per batch `on_train_batch_begin` and `on_train_batch_end`
    (after the optimizer step), then `on_epoch_end` (training, validation and logging
    done); `on_train_end` once when training ends normally (not when it is stopped by
    an exception). Every hook may read `model` and `optimizer`: a per-batch
    learning-rate schedule or gradient logging needs no optimizer subclass.

    No ``__init__`` is needed (nor a ``super().__init__()`` call in yours).
    """

    model: Module[Any]
    """The model `fit` is training (set by `set_context`, before `on_train_begin`)."""
    optimizer: Optimizer
    """The optimizer `fit` is stepping (set by `set_context`)."""

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

    def on_train_batch_end(self, batch: int, logs: Mapping[str, float]) -> None:
        """Batch ``batch`` ended after the optimizer step; ``logs["loss"]`` is its loss
        (the gradients of this batch are still in ``param.grad``)."""

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
                f"quantities {sorted(keys)}{hint}"
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


# -- progress output -------------------------------------------------------------------


def _format_logs(logs: Mapping[str, float]) -> str:
    return " - ".join(f"{key}: {value:.4g}" for key, value in logs.items())


class _LineProgress:
    """One summary line per epoch on stderr (no terminal needed: logs, CI)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.start = 0.0

    def begin_epoch(self, epoch: int, steps: int) -> None:
        self.start = time.perf_counter()

    def batch_end(self, running_loss: float) -> None:
        pass

    def end_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        seconds = time.perf_counter() - self.start
        print(
            f"Epoch {epoch + 1}/{self.epochs} - {seconds:.2f}s - {_format_logs(logs)}",
            file=sys.stderr,
        )

    def close(self) -> None:
        pass


class _BarProgress(_LineProgress):
    """A live tqdm bar per epoch, showing the running loss, then the epoch's logs."""

    def __init__(self, epochs: int, tqdm: Any) -> None:
        super().__init__(epochs)
        self.tqdm = tqdm
        self.bar: Any = None

    @override
    def begin_epoch(self, epoch: int, steps: int) -> None:
        self.bar = self.tqdm(
            total=steps, desc=f"Epoch {epoch + 1}/{self.epochs}", file=sys.stderr, leave=True
        )

    @override
    def batch_end(self, running_loss: float) -> None:
        self.bar.set_postfix_str(f"loss: {running_loss:.4g}", refresh=False)
        self.bar.update()

    @override
    def end_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.bar.set_postfix_str(_format_logs(logs), refresh=False)
        self.close()

    @override
    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _make_progress(progress: bool, epochs: int) -> _LineProgress | None:
    """A tqdm bar when tqdm is installed and stderr is a terminal, else summary lines."""
    if not progress:
        return None
    if sys.stderr.isatty():
        try:
            tqdm = importlib.import_module("tqdm").tqdm
        except ImportError:
            pass
        else:
            return _BarProgress(epochs, tqdm)
    return _LineProgress(epochs)


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
        Show progress on stderr: a tqdm bar per epoch if tqdm is installed and stderr is
        a terminal, otherwise one summary line per epoch. False prints nothing.
    check_finite : bool, default True
        Refuse NaN or ±inf in ``X``, ``y`` and the validation data, naming the first bad
        row (one vectorized pass per `fit` call). False skips the pass, for speed on
        data known to be clean; a bad value then surfaces as the non-finite loss stop.
    grad_clip : float >= 0, optional
        Clip the gradients of the optimizer's parameters to this joint L2 norm before
        each step (`clip_grad_norm`, PyTorch's ``clip_grad_norm_``).

    Returns
    -------
    History
        The per-epoch logs.

    Raises
    ------
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
        A batch's loss is not finite; its message names the epoch and batch. The
        parameters are left as they were before that batch (nothing is stepped).
    """
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
    steps = math.ceil(X.shape[0] / size)
    history = History()
    bar = _make_progress(progress, int(epochs))
    for callback in callbacks:
        callback.set_context(model, optimizer)
        callback.on_train_begin(model)
    try:
        with model.mode(training=True):
            for epoch in range(epochs):
                if bar is not None:
                    bar.begin_epoch(epoch, steps)
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                data = batches(X, y, size, shuffle=shuffle, rng=generator)
                where = f"epoch {epoch + 1}/{epochs}"
                logs = _train_epoch(model, loss_fn, optimizer, data, named, bar, where, steps,
                                    callbacks, clip)
                if validation is not None:
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


def _train_epoch(
    model: Layer[Any],
    loss_fn: Loss[Any],
    optimizer: Optimizer,
    data: Iterator[tuple[Array, Array]],
    metrics: Mapping[str, Metric],
    bar: _LineProgress | None,
    where: str,
    steps: int,
    callbacks: Sequence[Callback],
    grad_clip: float | None,
) -> dict[str, float]:
    """One pass over ``data``; returns the epoch's loss and sample-weighted metric means."""
    epoch_loss = _EpochLoss(loss_fn)
    metric_sums = dict.fromkeys(metrics, 0.0)
    for index, (xb, yb) in enumerate(data):
        for callback in callbacks:
            callback.on_train_batch_begin(index)
        pred = model.forward(xb)
        loss = float(loss_fn.forward(pred, yb))  # a scalar: _check_loss refused "none"
        if not math.isfinite(loss):  # before backward/step: the parameters stay as they are
            raise FloatingPointError(
                f"fit: the loss is {loss} at {where}, batch {index + 1}/{steps}; "
                "training stopped with the parameters as they were before this batch"
            )
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
