"""The training loop: `fit` (`predict` is in `minigrad.training.predict`, the epoch's passes
in `minigrad.training.epoch`, its `History` in `minigrad.training.history`, the `Callback`
hooks and `EarlyStopping` in `minigrad.training.callbacks`, the data-parallel protocols in
`minigrad.training.parallel`).

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

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Layer, check_count, check_non_negative, name_list
from minigrad.init import SeedLike, make_rng
from minigrad.losses.loss import Loss
from minigrad.optim import Optimizer
from minigrad.training.callbacks import Callback, EarlyStopping
from minigrad.training.epoch import evaluate, evaluate_batches, train_epoch
from minigrad.training.history import History, make_progress
from minigrad.training.metrics import Metric
from minigrad.training.parallel import ParallelRun, ParallelStrategy, as_strategy
from minigrad.training.predict import check_type, predict
from minigrad.training.sources import (
    ArraySource,
    MapDataset,
    Source,
    batch_size_for,
    data_kind,
    make_source,
)
from minigrad.training.weights import ClassWeight, WeightedLoss, check_class_weight

__all__ = ["Callback", "EarlyStopping", "History", "Metric", "fit", "predict"]


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


def fit(
    model: Layer[Any],
    loss_fn: Loss[Any],
    optimizer: Optimizer,
    X: npt.ArrayLike | MapDataset | Iterable[Any],
    y: npt.ArrayLike | None = None,
    *,
    epochs: int,
    batch_size: int | None = None,
    shuffle: bool = True,
    rng: SeedLike = None,
    validation_data: tuple[npt.ArrayLike, ...] | MapDataset | Iterable[Any] | None = None,
    metrics: Sequence[Metric | tuple[str, Metric]] = (),
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    check_finite: bool = True,
    grad_clip: float | None = None,
    data_parallel: ParallelStrategy | None = None,
    sample_weight: npt.ArrayLike | None = None,
    class_weight: ClassWeight | None = None,
    accumulate_grad_batches: int = 1,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
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
        array-likes for a NumPy model). Or, with ``y`` None, ``X`` a map-style dataset
        (``ds[i]`` a sample ``(x, y)`` or ``(x, y, sample_weight)``) or an iterable of
        such batches (a generator, a ``DataLoader``): see `minigrad.training.sources`.
    epochs : int >= 0
    batch_size : int >= 1, default 32
        For arrays and a dataset; refused with an iterable of batches, whose batches
        are taken as they come.
    shuffle : bool, default True
        A new random sample order every epoch.
    rng : int, numpy Generator or RandomState, optional
        Source of the shuffling; a fixed seed makes training reproducible.
    validation_data : (X_val, y_val), (X_val, y_val, sample_weight_val), a dataset or an
        iterable of batches, optional
        Its sample weights weight ``val_loss``.
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
    data_parallel : ParallelStrategy, optional
        A data-parallel strategy (`minigrad.training.parallel.ParallelStrategy`), e.g.
        ``minigrad.distributed.DataParallel()`` (``from minigrad.distributed import
        DataParallel``): train across the processes of a ``torch.distributed`` process
        group (started in every process by ``init_process_group``; needs PyTorch): every
        process runs this `fit` call on the same whole dataset and trains on its shard of
        each epoch, ``batch_size`` samples per process and step; the gradients are
        averaged after each backward and the logs combined, so every process ends with
        the same model and `History` -- that of one process with batch size
        ``P·batch_size``. Rank 0 shows the progress and writes checkpoints. See
        `minigrad.distributed.DataParallel` and docs/distributed.md. None (the
        default): this process alone. Only on arrays, without ``sample_weight``.
    sample_weight : array_like of shape ``(N,)`` or ``(N, d1, ...)``, optional
        Finite weights >= 0 (numbers; a bool mask is refused, ``mask.astype(float)``
        says 0/1) per sample (or per leading position of the per-element
        losses: ``(N, T)`` per time step), multiplying the per-element losses before the
        loss's reduction, whose mean still divides by its usual count (Keras's rule;
        `minigrad.training.weights`). The logged ``loss`` is weighted, the metrics not.
    class_weight : dict {class: weight} or array of one weight per class, optional
        A sample's weight from its target's class (times its ``sample_weight``): integer
        targets, one-hot/probability rows (class axis last, their argmax), or binary
        labels (rounded). Training only, not validation.
    accumulate_grad_batches : int >= 1, default 1
        Step the optimizer once per this many batches, on the gradient of their joined
        loss -- exactly that of one batch of all their samples (`train_epoch`); the last
        group of an epoch may be shorter. Callbacks' `Callback.on_optimizer_step` and
        a per-batch `LearningRateScheduler` count the steps.
    steps_per_epoch : int >= 1, optional
        For an iterable of batches: the batches per epoch (required for a one-shot
        iterator and several epochs; default: the whole iteration).
    validation_steps : int >= 1, optional
        The same for an iterable as ``validation_data``.

    Returns
    -------
    History
        The per-epoch logs.

    Raises
    ------
    TypeError
        Before any work: ``model`` is not a `Layer`, ``loss_fn`` not a `Loss` or
        ``optimizer`` not an `Optimizer` (a plain function, say), naming what it got;
        ``data_parallel`` not None nor a strategy (``True``, say: pass
        ``minigrad.distributed.DataParallel()``).
    ValueError, TypeError
        Before any work: ``epochs < 0``, ``batch_size < 1``, mismatched lengths, empty
        data, data of another array library or device than the model's parameters
        (TypeError, naming both), data of a non-real dtype, NaN or ±inf in the data (with
        ``check_finite``), bad metrics or callbacks (including an `EarlyStopping`
        monitoring a key that will not be logged); a ``sample_weight`` that is negative,
        not finite or not one row per sample; a ``class_weight`` with a key that is no
        class index, a negative or non-finite weight; ``accumulate_grad_batches`` not an
        int >= 1; ``y`` or ``sample_weight`` beside a dataset; ``steps_per_epoch`` with
        arrays, or missing for a one-shot iterator and several epochs; a dict as ``X``.
    ValueError, TypeError
        At the batch it concerns: a dataset item or iterable batch that is not a pair
        or triple, or bad data in it (as for arrays); ``class_weight`` naming a class the
        model does not output (at the first batch, before its step); a weight array
        that does not fit the per-element losses.
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
    check_type("fit", "model", model, Layer, "a minigrad Layer (a Sequential, a Graph, a "
               "layer)")
    check_type("fit", "loss_fn", loss_fn, Loss, "a minigrad Loss (mg.MSELoss(), "
               "mg.CrossEntropyLoss(), your subclass of mg.Loss)")
    check_type("fit", "optimizer", optimizer, Optimizer, "a minigrad Optimizer (mg.SGD, "
               "mg.Adam, ... built on model.parameters())")
    strategy = as_strategy(data_parallel)
    epochs = check_count("fit", "epochs", epochs, 0)
    size = batch_size_for("fit", batch_size, X, 32)
    accumulate = check_count("fit", "accumulate_grad_batches", accumulate_grad_batches, 1)
    source = make_source("fit", X, y, sample_weight, batch_size=size, steps=steps_per_epoch,
                         epochs=epochs, finite=check_finite)
    validation = _validation_source(validation_data, size, validation_steps, epochs,
                                    check_finite)
    if isinstance(source, ArraySource):
        _check_data_place(model, source.arrays[0], "X")
    if isinstance(validation, ArraySource):
        _check_data_place(model, validation.arrays[0], "validation X")
    weighting = WeightedLoss(loss_fn, None if class_weight is None
                             else check_class_weight(class_weight))
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
    parallel: ParallelRun | None = None
    if strategy is not None:
        parallel = _begin_parallel(strategy, model, optimizer, loss_fn, source, validation,
                                   size, epochs, shuffle, accumulate)
    steps = source.steps if parallel is None else parallel.steps(size)
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
                if parallel is None:
                    data = source.epoch(generator)
                else:
                    X_all, y_all = cast(ArraySource, source).arrays[:2]
                    data = ((xb, yb, None) for xb, yb in
                            parallel.batches(X_all, y_all, size, shuffle, generator))
                where = f"epoch {epoch + 1}/{epochs}"
                logs = train_epoch(model, loss_fn, optimizer, data, named, bar, where, steps,
                                   callbacks, clip, parallel, weighting, accumulate)
                if not logs:  # no batch at all: an iterator ran out, or gave none
                    if not source.exhausted:
                        raise ValueError(f"fit: X gave no batches in epoch {epoch + 1}")
                    _ran_out(epoch)
                    break
                if parallel is not None:
                    logs = parallel.combine_metrics(logs)
                logs.update(_validation_logs(model, loss_fn, validation, size, named,
                                             parallel, keys))
                history.append(epoch, logs)
                if bar is not None:
                    bar.end_epoch(epoch, logs)
                stop = [callback.on_epoch_end(epoch, logs) for callback in callbacks]
                if source.exhausted:
                    _ran_out(epoch + 1)
                    break
                if any(stop):
                    break
    finally:
        if bar is not None:
            bar.close()
        model.clear_cache()
    for callback in callbacks:
        callback.on_train_end()
    return history


def _validation_source(validation_data: object, size: int, steps: int | None, epochs: int,
                       finite: bool) -> Source | None:
    """``validation_data`` as a `Source`: ``(X_val, y_val)`` or ``(X_val, y_val,
    sample_weight_val)`` arrays, a dataset, or an iterable of batches."""
    if validation_data is None:
        if steps is not None:
            raise ValueError("fit: validation_steps needs validation_data")
        return None
    owner = "fit (validation_data)"
    if isinstance(validation_data, tuple):
        if len(validation_data) not in (2, 3):
            raise TypeError("fit: validation_data must be a tuple (X_val, y_val) or (X_val, "
                            "y_val, sample_weight_val), a dataset or an iterable of batches, "
                            f"got a tuple of {len(validation_data)}")
        return make_source(owner, validation_data[0], validation_data[1],
                           validation_data[2] if len(validation_data) == 3 else None,
                           batch_size=size, steps=steps, epochs=epochs, finite=finite,
                           steps_name="validation_steps")
    if data_kind(validation_data) == "arrays":
        raise TypeError("fit: validation_data must be a tuple (X_val, y_val) or (X_val, "
                        "y_val, sample_weight_val), a dataset or an iterable of batches, got "
                        f"{type(validation_data).__name__}")
    return make_source(owner, validation_data, None, None, batch_size=size, steps=steps,
                       epochs=epochs, finite=finite, steps_name="validation_steps")


def _validation_logs(model: Layer[Any], loss_fn: Loss[Any], validation: Source | None,
                     size: int, named: dict[str, Metric], parallel: ParallelRun | None,
                     keys: list[str]) -> dict[str, float]:
    """The epoch's validation logs (none without validation data)."""
    if validation is None:
        return {}
    arrays = validation.arrays if isinstance(validation, ArraySource) else None
    if arrays is not None and len(arrays) == 2 and parallel is not None:  # a part per process
        return parallel.evaluate(
            lambda Xv, yv: evaluate(model, loss_fn, Xv, yv, size, named),
            *arrays, [key for key in keys if key.startswith("val_")])
    if arrays is not None and len(arrays) == 2:
        return evaluate(model, loss_fn, *arrays, size, named)
    return evaluate_batches(model, loss_fn, validation.epoch(None), named)


def _ran_out(epochs_done: int) -> None:
    warnings.warn(f"fit: the data ran out after {epochs_done} complete epoch(s), before "
                  "steps_per_epoch batches of the next; training stopped there (make the "
                  "iterator long enough for epochs * steps_per_epoch batches, or let it start "
                  "over each epoch)", stacklevel=3)


def _begin_parallel(strategy: ParallelStrategy, model: Layer[Any], optimizer: Optimizer,
                    loss_fn: Loss[Any], source: Source, validation: Source | None, size: int,
                    epochs: int, shuffle: bool, accumulate: int) -> ParallelRun:
    """The strategy's run of this call: on arrays alone, without sample weights or
    gradient accumulation (refused, naming which)."""
    unsupported = [name for name, used in (
        ("a dataset or iterable as X", not isinstance(source, ArraySource)),
        ("sample_weight", isinstance(source, ArraySource) and len(source.arrays) == 3),
        ("accumulate_grad_batches > 1", accumulate > 1),
        ("validation_data other than (X_val, y_val) arrays", validation is not None and not (
            isinstance(validation, ArraySource) and len(validation.arrays) == 2)),
    ) if used]
    if unsupported:
        raise ValueError(f"fit: data_parallel does not support {name_list(unsupported)}; "
                         "train on (X, y) arrays (class_weight works)")
    X, y = cast(ArraySource, source).arrays[:2]
    arrays = None if validation is None else cast(ArraySource, validation).arrays
    return strategy.begin(model, optimizer, loss_fn, X, y, batch_size=size, epochs=epochs,
                          shuffle=shuffle, validation=None if arrays is None
                          else (arrays[0], arrays[1]))


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
