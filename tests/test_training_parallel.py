"""`fit`'s data-parallel plug: any object with the methods of
`minigrad.training.parallel.ParallelStrategy` trains through it -- training imports
nothing of minigrad.distributed -- and anything else is refused with a clear TypeError.
(Training across real processes: tests/test_distributed.py.)"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

import minigrad as mg
from minigrad.training.parallel import ParallelStrategy


def data(seed=0, n=23):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, (X @ rng.standard_normal((3, 2))).argmax(axis=1)


def model_and_opt(seed=0):
    model = mg.Sequential(mg.Dense(3, 5, rng=seed), mg.Tanh(), mg.Dense(5, 2, rng=seed + 1))
    return model, mg.Adam(model.parameters(), lr=0.01)


class OneProcess:
    """A strategy of one process, written against the protocols alone: through it, `fit`
    must train exactly as without it. It records what `fit` asks of it."""

    def __init__(self, is_main=True):
        self.main, self.calls = is_main, []

    def begin(self, model, optimizer, loss_fn, X, y, *, batch_size, epochs, shuffle,
              validation):
        self.calls.append(("begin", X.shape[0], batch_size, epochs, shuffle,
                           None if validation is None else validation[0].shape[0]))
        return _Run(self, X.shape[0])


class _Run:
    def __init__(self, strategy, n):
        self.strategy, self.n = strategy, n

    @property
    def is_main(self):
        return self.strategy.main

    def steps(self, batch_size):
        return math.ceil(self.n / batch_size)

    def batches(self, X, y, batch_size, shuffle, rng):
        self.strategy.calls.append("batches")
        return mg.batches(X, y, batch_size, shuffle=shuffle, rng=rng)

    def reduce_gradients(self, loss):
        self.strategy.calls.append("reduce")
        return loss

    def combine_metrics(self, logs):
        self.strategy.calls.append(("combine", sorted(logs)))
        return dict(logs)

    def evaluate(self, evaluate, X, y, keys):
        logs = evaluate(X, y)
        self.strategy.calls.append(("evaluate", sorted(keys)))
        assert sorted(logs) == sorted(keys)
        return logs


def test_a_strategy_of_one_process_trains_as_fit_alone():
    X, y = data()
    runs, strategy = [], OneProcess()
    for data_parallel in (None, strategy):
        model, opt = model_and_opt()
        history = mg.fit(model, mg.CrossEntropyLoss(), opt, X, y, epochs=2, batch_size=5,
                         rng=4, metrics=[mg.accuracy], validation_data=(X[:7], y[:7]),
                         progress=False, data_parallel=data_parallel)
        runs.append((model.state_dict(), history.history))
    (weights, history), (parallel_weights, parallel_history) = runs
    assert parallel_weights.keys() == weights.keys()
    for key, value in weights.items():
        np.testing.assert_array_equal(parallel_weights[key], value, err_msg=key)
    assert parallel_history == history
    epoch = ["batches", *["reduce"] * 5, ("combine", ["accuracy", "loss"]),
             ("evaluate", ["val_accuracy", "val_loss"])]
    assert strategy.calls == [("begin", 23, 5, 2, True, 7), *epoch, *epoch]


def test_a_strategy_that_is_not_main_shows_nothing_and_tells_the_callbacks(capsys):
    seen = []

    class Main(mg.Callback):
        def on_train_begin(self, model):
            seen.append(self.is_main_process)

    X, y = data()
    model, opt = model_and_opt()
    mg.fit(model, mg.CrossEntropyLoss(), opt, X, y, epochs=1, progress=True,
           callbacks=[Main()], data_parallel=OneProcess(is_main=False))
    assert seen == [False]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", [True, False, "yes", 1, object()])
def test_anything_but_a_strategy_is_refused_before_any_work(value):
    begun = []

    class Begun(mg.Callback):
        def on_train_begin(self, model):
            begun.append(True)

    X, y = data()
    model, opt = model_and_opt()
    before = {key: value.copy() for key, value in model.state_dict().items()}
    with pytest.raises(TypeError, match=(
            r"^fit: data_parallel must be None or a data-parallel strategy such as "
            r"minigrad\.distributed\.DataParallel\(\) \(from minigrad\.distributed import "
            r"DataParallel\), got ")) as raised:
        mg.fit(model, mg.CrossEntropyLoss(), opt, X, y, epochs=1, progress=False,
               callbacks=[Begun()], data_parallel=value)
    assert begun == []
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[key])
    if isinstance(value, bool):
        assert str(raised.value).endswith(f"got {value}")


def test_the_strategy_class_itself_is_refused_with_a_hint():
    from minigrad.distributed import DataParallel

    X, y = data()
    model, opt = model_and_opt()
    with pytest.raises(TypeError, match=r"got the class DataParallel; did you mean "
                                        r"DataParallel\(\)\?"):
        mg.fit(model, mg.CrossEntropyLoss(), opt, X, y, epochs=1, progress=False,
               data_parallel=DataParallel)


def test_distributed_data_parallel_is_a_strategy():
    from minigrad.distributed import DataParallel

    strategy: ParallelStrategy = DataParallel(drop_last=True)  # mypy checks it in _fit.py
    assert isinstance(strategy, ParallelStrategy)
    assert isinstance(OneProcess(), ParallelStrategy)


def test_fit_imports_nothing_of_minigrad_distributed():
    code = ("import sys, numpy as np, minigrad as mg; "
            "m = mg.Sequential(mg.Dense(1, 1, rng=0)); X = np.ones((4, 1)); "
            "mg.fit(m, mg.MSELoss(), mg.SGD(m.parameters(), lr=0.1), X, X, epochs=1, "
            "progress=False); "
            "assert 'minigrad.distributed' not in sys.modules, 'minigrad.distributed imported'")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
