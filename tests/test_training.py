"""`mg.fit`, `History`, callbacks, `EarlyStopping`, `mg.predict` and `mg.accuracy`."""

from __future__ import annotations

import collections
import io
import re

import numpy as np
import pytest

import minigrad as mg


class Recorder(mg.Layer):
    """Identity that records each input batch and the mode it ran in.

    The record is a deque, held by reference: a list on the layer would be per-use
    state, which predict restores (the sharing rule in minigrad.core).
    """

    def __init__(self):
        self.calls = collections.deque()

    def forward(self, x):
        self.calls.append((np.array(x, dtype=np.float64), self.training))
        self.cache = np.shape(x)
        return np.asarray(x, dtype=np.float64)

    def backward(self, grad_out):
        return grad_out


def regression_data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    return X, y


def make_model(seed=0):
    return mg.Sequential(mg.Bias(), mg.Dense(4, 5, rng=seed), mg.Sigmoid(), mg.Bias(),
                         mg.Dense(6, 1, rng=seed + 1))


def weights(model):
    return [p.data.copy() for p in model.parameters()]


def train(seed=0, rng=0, epochs=3, progress=False, **kwargs):
    X, y = regression_data()
    model = make_model(seed)
    history = mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y,
                     epochs=epochs, batch_size=4, rng=rng, progress=progress, **kwargs)
    return model, history


# -- batching ---------------------------------------------------------------------------


def test_each_epoch_sees_every_sample_once_in_batches_of_the_given_size():
    X = np.arange(10.0).reshape(10, 1)
    recorder = Recorder()
    model = mg.Sequential(recorder, mg.Dense(1, 1, rng=0))
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.01), X, X,
           epochs=2, batch_size=4, rng=0, progress=False)
    batches = [x[:, 0] for x, _ in recorder.calls]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)  # reshuffled between epochs


def test_without_shuffle_the_order_is_the_data_order():
    X = np.arange(7.0).reshape(7, 1)
    recorder = Recorder()
    model = mg.Sequential(recorder, mg.Dense(1, 1, rng=0))
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.01), X, X,
           epochs=2, batch_size=3, shuffle=False, progress=False)
    order = np.concatenate([x[:, 0] for x, _ in recorder.calls])
    np.testing.assert_array_equal(order, np.tile(np.arange(7.0), 2))


def test_fit_is_the_textbook_loop_and_the_epoch_loss_is_sample_weighted():
    """The same steps written out by hand: 10 samples in batches of 4, 4 and 2, so an
    unweighted mean of the batch losses would differ."""
    X, y = regression_data()
    model, history = train(epochs=2, rng=7)
    reference = make_model()
    loss_fn, opt = mg.MSELoss(), mg.SGD(reference.parameters(), lr=0.1)
    perms = np.random.default_rng(7)
    expected = []
    for _ in range(2):
        order = perms.permutation(10)
        total = 0.0
        for start in range(0, 10, 4):
            index = order[start : start + 4]
            loss = loss_fn(reference(X[index]), y[index])
            opt.zero_grad()
            reference.backward(loss_fn.backward())
            opt.step()
            total += loss * len(index)
        expected.append(total / 10)
    assert history.history["loss"] == expected
    for got, want in zip(weights(model), weights(reference)):
        np.testing.assert_array_equal(got, want)


def test_same_rng_seed_same_run_and_another_seed_another_run():
    model_a, history_a = train(rng=11)
    model_b, history_b = train(rng=np.random.default_rng(11))
    model_c, history_c = train(rng=12)
    assert history_a.history == history_b.history
    for a, b in zip(weights(model_a), weights(model_b)):
        np.testing.assert_array_equal(a, b)
    assert history_a.history["loss"] != history_c.history["loss"]
    assert not np.array_equal(weights(model_a)[0], weights(model_c)[0])


def test_fit_never_touches_the_global_numpy_rng():
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    train(rng=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# -- logs, validation, metrics, modes ---------------------------------------------------


def classification_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, :1] + X[:, 1:] > 0).astype(np.float64)
    return X, y


def accuracy_at_half(pred, target):
    return mg.accuracy(pred, target, threshold=0.5)


def test_history_has_loss_metrics_and_their_validation_twins():
    X, y = classification_data()
    Xv, yv = classification_data(seed=1)
    model = make_model_2d()
    history = mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.5), X, y,
                     epochs=4, batch_size=8, rng=0, validation_data=(Xv, yv),
                     metrics=[("accuracy", accuracy_at_half)], progress=False)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    pred = model.eval()(Xv)  # the final model, full batch, without dropout
    model.train()
    assert history.history["val_loss"][-1] == pytest.approx(mg.MSELoss()(pred, yv), rel=1e-12)
    assert history.history["val_accuracy"][-1] == mg.accuracy(pred, yv, threshold=0.5)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not np.array_equal(model(Xv), pred)  # dropout really is on in training mode


def make_model_2d(seed=0):
    return mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=seed), mg.Sigmoid(),
                         mg.Dropout(0.5, rng=seed), mg.Bias(), mg.Dense(5, 1, rng=seed + 1),
                         mg.Sigmoid())


def test_training_mode_during_epochs_eval_for_validation_and_modes_restored():
    X, y = classification_data(12)
    recorder = Recorder()
    frozen = mg.Sigmoid()  # a module the user left in eval mode on purpose
    model = mg.Sequential(recorder, mg.Dense(2, 1, rng=0), frozen)
    model.eval()
    model.layers[0].train()
    modes_before = [m.training for m in model.modules()]
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
           batch_size=5, rng=0, validation_data=(X, y), progress=False)
    seen = [(len(x), training) for x, training in recorder.calls]
    epoch = [(5, True), (5, True), (2, True), (5, False), (5, False), (2, False)]
    assert seen == epoch * 2
    assert [m.training for m in model.modules()] == modes_before
    assert all(m.cache is None for m in model.modules())  # no stale batch kept alive


def test_predict_runs_in_eval_mode_in_batches_and_restores_the_mode():
    X, _ = classification_data(11)
    recorder = Recorder()
    model = mg.Sequential(recorder, mg.Dense(2, 3, rng=0))
    pred = mg.predict(model, X, batch_size=4)
    np.testing.assert_array_equal(pred, X @ model[1].weight.data)
    assert [(len(x), training) for x, training in recorder.calls] == [
        (4, False), (4, False), (3, False)]
    assert model.training and recorder.training
    assert model[1].cache is None
    with pytest.raises(ValueError, match="batch_size"):
        mg.predict(model, X, batch_size=0)
    with pytest.raises(ValueError, match="at least one sample"):
        mg.predict(model, X[:0])


# -- the non-finite stop --------------------------------------------------------------


def test_a_non_finite_loss_stops_with_the_parameters_of_before_that_batch():
    X, y = regression_data()
    X[4, 1] = np.nan  # sample 4: the third batch of 2 in the first epoch
    model = make_model()
    with pytest.raises(FloatingPointError, match=r"epoch 1/3, batch 3/5") as info:
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
               batch_size=2, shuffle=False, progress=False, check_finite=False)
    assert "nan" in str(info.value)
    reference = make_model()  # the two batches before it, and nothing more
    mg.fit(reference, mg.MSELoss(), mg.SGD(reference.parameters(), lr=0.1), X[:4], y[:4],
           epochs=1, batch_size=2, shuffle=False, progress=False)
    for got, want in zip(weights(model), weights(reference)):
        np.testing.assert_array_equal(got, want)
    assert all(np.isfinite(w).all() for w in weights(model))
    assert model.training and all(m.cache is None for m in model.modules())


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"X": (17, 2, np.nan)}, "fit: X has a non-finite value (nan) in row 17 (column 2)"),
        ({"X": (17, 2, np.inf), "y": (3, 0, -np.inf)},
         "fit: X has a non-finite value (inf) in row 17 (column 2)"),
        ({"y": (30, 0, -np.inf)}, "fit: y has a non-finite value (-inf) in row 30 (column 0)"),
        ({"X_val": (1, 0, np.nan)},
         "fit (validation_data): X has a non-finite value (nan) in row 1 (column 0)"),
        ({"y_val": (4, 0, np.inf)},
         "fit (validation_data): y has a non-finite value (inf) in row 4 (column 0)"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_data_is_refused_naming_the_first_bad_row(where, message, dtype, capsys):
    rng = np.random.default_rng(0)
    data = {"X": rng.normal(size=(40, 3)), "y": rng.normal(size=(40, 1)),
            "X_val": rng.normal(size=(5, 3)), "y_val": rng.normal(size=(5, 1))}
    data = {key: value.astype(dtype) for key, value in data.items()}
    for key, (row, column, value) in where.items():
        data[key][row, column] = value
        data[key][row + 1 :, column] = value  # later rows are bad too: the first is named
    model = make_model()
    before = weights(model)
    with pytest.raises(ValueError) as info:
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), data["X"], data["y"],
               validation_data=(data["X_val"], data["y_val"]), epochs=2)
    assert str(info.value) == message
    assert capsys.readouterr().err == ""
    for got, want in zip(weights(model), before):
        np.testing.assert_array_equal(got, want)


def test_non_finite_data_names_its_index_in_each_row_beyond_2d():
    X = np.zeros((4, 2, 3))
    X[2, 1, 0] = np.nan
    model = mg.Sequential(mg.Dense(6, 1, rng=0))
    with pytest.raises(ValueError, match=re.escape("X has a non-finite value (nan) in row 2 "
                                                   "(index (1, 0))")):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, np.zeros((4, 1)),
               epochs=1, progress=False)
    with pytest.raises(ValueError, match=re.escape("y has a non-finite value (inf) in row 3")):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), np.zeros((4, 6)),
               np.array([0.0, 1.0, 2.0, np.inf]), epochs=1, progress=False)


def test_finite_data_whose_sum_overflows_is_accepted():
    X = np.full((4, 1), np.finfo(np.float32).max, dtype=np.float32)  # the sum is inf
    model = mg.Sequential(mg.Dense(1, 1, rng=0, dtype=np.float32))
    history = mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X,
                     np.zeros((4, 1)), epochs=0, progress=False)
    assert history.epoch == []


class InfiniteOnCall(mg.MSELoss):
    """MSE, except that call number ``bad`` (from 1) returns inf."""

    def __init__(self, bad):
        super().__init__()
        self.bad, self.calls = bad, 0

    def forward(self, pred, target):
        self.calls += 1
        value = super().forward(pred, target)
        return float("inf") if self.calls == self.bad else value


def test_the_non_finite_stop_names_a_later_epoch_and_batch():
    X, y = regression_data()  # 10 samples: 3 batches of up to 4 per epoch
    model = make_model()
    with pytest.raises(FloatingPointError, match=r"loss is inf at epoch 2/4, batch 2/3"):
        mg.fit(model, InfiniteOnCall(bad=5), mg.SGD(model.parameters(), lr=0.1), X, y,
               epochs=4, batch_size=4, progress=False)


# -- argument checks: before any work ---------------------------------------------------


class Spy(mg.Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, model):
        self.events.append("begin")

    def on_epoch_end(self, epoch, logs):
        self.events.append(epoch)
        return False

    def on_train_end(self):
        self.events.append("end")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": -1}, ValueError, "epochs must be an int >= 0"),
        ({"epochs": 2.5}, ValueError, "epochs must be an int >= 0"),
        ({"epochs": True}, ValueError, "epochs must be an int >= 0"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
        ({"y": np.zeros((9, 1))}, ValueError, "same number of samples, got 10 and 9"),
        ({"X": np.zeros((0, 3)), "y": np.zeros((0, 1))}, ValueError, "fit: the data is empty"),
        ({"validation_data": (np.zeros((3, 3)),)}, TypeError, "validation_data must be a tuple"),
        ({"validation_data": (np.zeros((3, 3)), np.zeros((2, 1)))}, ValueError,
         r"validation_data\): X and y must have the same number of samples"),
        ({"X": np.full((10, 3), "a")}, TypeError, "fit: X must hold real numbers, got dtype <U1"),
        ({"y": np.full((10, 1), None)}, TypeError,
         "fit: y must hold real numbers, got dtype object"),
        ({"X": np.ones((10, 3), complex)}, TypeError, "fit: X must hold real numbers"),
        ({"X": 1.0}, ValueError, "fit: X and y need one row per sample"),
        ({"validation_data": (np.zeros((3, 3)), np.full((3, 1), "b"))}, TypeError,
         r"fit \(validation_data\): y must hold real numbers"),
        ({"validation_data": (np.zeros((0, 3)), np.zeros((0, 1)))}, ValueError,
         r"fit \(validation_data\): the data is empty"),
        ({"metrics": [mg.accuracy, mg.accuracy]}, ValueError, "metric names must be unique"),
        ({"metrics": [np.zeros(1)]}, TypeError, "named function"),
        ({"callbacks": [Spy(), "stop"]}, TypeError, "callbacks must be Callback instances"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs, error, match, capsys):
    X, y = regression_data()
    model = make_model()
    before = weights(model)
    spy = Spy()
    args = {"X": X, "y": y, "epochs": 2, "callbacks": [spy], **kwargs}
    if "callbacks" in kwargs:
        spy = kwargs["callbacks"][0]
    with pytest.raises(error, match=match):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), args.pop("X"),
               args.pop("y"), **args)
    assert spy.events == []
    assert capsys.readouterr() == ("", "")  # no progress line: no epoch began
    for got, want in zip(weights(model), before):
        np.testing.assert_array_equal(got, want)


def test_zero_epochs_trains_nothing():
    model, history = train(epochs=0)
    assert history.history == {} and history.epoch == []
    for got, want in zip(weights(model), weights(make_model())):
        np.testing.assert_array_equal(got, want)


# -- callbacks and early stopping -------------------------------------------------------


def test_callbacks_see_every_epoch_and_a_true_return_stops_training():
    class StopAtEpoch2(Spy):
        def on_epoch_end(self, epoch, logs):
            super().on_epoch_end(epoch, logs)
            assert set(logs) == {"loss"}
            return epoch == 2

    spy, stopper = Spy(), StopAtEpoch2()
    _, history = train(epochs=10, callbacks=[stopper, spy])
    assert history.epoch == [0, 1, 2]
    assert spy.events == stopper.events == ["begin", 0, 1, 2, "end"]


def feed(callback, values, key="val_loss"):
    """Epoch-end calls with the given monitored values; the epoch that asked to stop."""
    callback.on_train_begin(make_model())
    for epoch, value in enumerate(values):
        if callback.on_epoch_end(epoch, {key: value}):
            return epoch
    return None


@pytest.mark.parametrize(
    ("values", "kwargs", "stop", "best_epoch"),
    [
        ([1.0, 0.8, 0.85, 0.9, 0.7], {"patience": 2}, 3, 1),
        ([1.0, 0.8, 0.85, 0.7, 0.75, 0.76], {"patience": 2}, 5, 3),
        ([1.0, 0.8, 0.85], {"patience": 0}, 2, 1),
        ([1.0, 0.8, 0.8], {"patience": 1}, 2, 1),  # equal is not better
        ([1.0, 0.95, 0.92, 0.85], {"patience": 2, "min_delta": 0.1}, 2, 0),
        ([1.0, float("nan"), 0.9], {"patience": 1}, 1, 0),
        ([1.0, 0.9, 0.8, 0.7], {"patience": 1}, None, 3),
    ],
)
def test_early_stopping_on_a_crafted_val_loss_sequence(values, kwargs, stop, best_epoch):
    callback = mg.EarlyStopping(**kwargs)
    assert feed(callback, values) == stop
    assert callback.stopped_epoch == stop
    assert callback.best_epoch == best_epoch
    assert callback.best == values[best_epoch]


def test_early_stopping_maximizes_accuracy_and_can_be_reused():
    callback = mg.EarlyStopping(patience=1, monitor="val_accuracy")
    assert callback.mode == "max"
    assert feed(callback, [0.5, 0.7, 0.6], key="val_accuracy") == 2
    assert feed(callback, [0.5, 0.6, 0.7, 0.8], key="val_accuracy") is None  # state reset
    assert callback.best == 0.8
    assert mg.EarlyStopping(monitor="loss", mode="max").mode == "max"


def test_early_stopping_names_a_missing_monitor():
    with pytest.raises(ValueError, match=r"'val_loss' is not among .*\['loss'\].*validation_data"):
        train(epochs=2, callbacks=[mg.EarlyStopping()])


@pytest.mark.parametrize(
    "kwargs",
    [{"patience": -1}, {"patience": 1.5}, {"min_delta": -0.1}, {"min_delta": float("nan")},
     {"mode": "up"}],
)
def test_early_stopping_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError, match="EarlyStopping"):
        mg.EarlyStopping(**kwargs)


class ScriptedValLoss(mg.MSELoss):
    """MSE, except on the 7-sample validation set: the next value of a script."""

    def __init__(self, script):
        super().__init__()
        self.script = iter(script)

    def forward(self, pred, target):
        value = super().forward(pred, target)
        return next(self.script) if len(pred) == 7 else value


class Snapshots(mg.Callback):
    def __init__(self):
        self.weights = []

    def on_train_begin(self, model):
        self.model = model

    def on_epoch_end(self, epoch, logs):
        self.weights.append(weights(self.model))
        return False


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_in_fit_stops_at_the_right_epoch_and_restores_the_best(restore):
    X, y = regression_data()
    model = make_model()
    script = [1.0, 0.6, 0.7, 0.5, 0.55, 0.58, 0.9, 0.1]  # best at epoch 3, stop at 5
    snapshots = Snapshots()
    stopper = mg.EarlyStopping(patience=2, restore_best_weights=restore)
    history = mg.fit(model, ScriptedValLoss(script), mg.SGD(model.parameters(), lr=0.1),
                     X, y, epochs=8, batch_size=10, validation_data=(X[:7], y[:7]),
                     callbacks=[snapshots, stopper], progress=False)
    assert history.history["val_loss"] == script[:6]
    assert stopper.stopped_epoch == 5 and stopper.best_epoch == 3
    expected = snapshots.weights[3 if restore else 5]
    for got, want in zip(weights(model), expected):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(snapshots.weights[3][0], snapshots.weights[5][0])


# -- progress output --------------------------------------------------------------------


def test_progress_false_is_silent(capsys):
    train(epochs=2, progress=False, validation_data=regression_data())
    assert capsys.readouterr() == ("", "")


def test_progress_without_a_terminal_prints_one_line_per_epoch(capsys):
    X, y = regression_data()
    model = make_model()
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
           rng=0, validation_data=(X, y))
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 3
    for number, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {number}/3 - ")
        assert " - loss: " in line and " - val_loss: " in line


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_draws_a_tqdm_bar(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train(epochs=2, progress=True)
    text = terminal.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "3/3" in text and "loss: " in text  # the bar counts the 3 batches


def test_progress_on_a_terminal_without_tqdm_prints_lines(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # import tqdm -> ImportError
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)  # even once imported
    train(epochs=2, progress=True)
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")


# -- accuracy ---------------------------------------------------------------------------


def test_accuracy_multiclass_with_indices_or_one_hot():
    pred = np.array([[0.1, 0.7, 0.2], [2.0, -1.0, 0.0], [0.3, 0.3, 0.4], [5.0, 6.0, 7.0]])
    target = np.array([1, 0, 0, 1])  # right, right, wrong, wrong
    assert mg.accuracy(pred, target) == 0.5
    assert mg.accuracy(pred, np.eye(3)[target]) == 0.5
    assert mg.accuracy(pred, np.array([1, 0, 2, 2])) == 1.0


def test_accuracy_single_column_thresholds_where_told():
    prob = np.array([[0.9], [0.2], [0.5], [0.51]])
    target = np.array([[1], [0], [1], [1]])  # 0.5 is not above the threshold
    assert mg.accuracy(prob, target, threshold=0.5) == 0.75
    assert mg.accuracy(prob.ravel(), target.ravel().astype(bool), threshold=0.5) == 0.75
    logits = np.array([[2.0], [-0.1], [0.3], [-3.0]])
    assert mg.accuracy(logits, np.array([1, 0, 1, 0]), threshold=0.0) == 1.0


def test_accuracy_on_one_column_never_guesses_probabilities_or_logits():
    # Logits from BCEWithLogitsLoss, all right at 0, scored 1/3 at a silent 0.5 before.
    logits = np.array([[0.3], [2.0], [-1.0]])
    with pytest.raises(ValueError, match=r"one output column \(binary\), so say what it "
                                         r"holds: threshold=0 for logits"):
        mg.accuracy(logits, np.array([1, 1, 0]))
    assert mg.accuracy(logits, np.array([1, 1, 0]), threshold=0) == 1.0
    with pytest.raises(ValueError, match="threshold is for one output column"):
        mg.accuracy(np.zeros((2, 3)), np.array([0, 1]), threshold=0.5)


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        (np.zeros((0, 3)), np.zeros(0, int), "N > 0"),
        (np.zeros((2, 3)), np.array([0, 3]), r"in \[0, 3\)"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), "must be integers"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), "class indices"),
        (np.zeros((2, 1)), np.array([0, 2]), "0 or 1"),
        (np.zeros((2, 1)), np.zeros((2, 2)), "one output column"),
    ],
)
def test_accuracy_refuses_what_it_cannot_score(pred, target, match):
    threshold = 0.5 if pred.shape[1] == 1 else None
    with pytest.raises(ValueError, match=match):
        mg.accuracy(pred, target, threshold=threshold)


def test_history_repr():
    _, history = train(epochs=2)
    assert repr(history) == "History(epochs=2, keys=['loss'])"


def test_sum_reduction_reports_the_dataset_sum():
    # Identity model, never trained (its loss is parameter-free): the logged loss must be
    # exactly the loss of the whole data set under the loss's own reduction.
    X = np.arange(10.0).reshape(5, 2)
    y = np.zeros((5, 2))
    model = mg.Sequential(mg.Identity())
    opt = mg.SGD([mg.Parameter(np.zeros(1))], lr=0.1)
    for reduction, expected in [("sum", float(np.sum(X**2))), ("mean", float(np.mean(X**2)))]:
        history = mg.fit(model, mg.MSELoss(reduction=reduction), opt, X, y, epochs=1,
                         batch_size=2, shuffle=False, validation_data=(X, y), progress=False)
        assert history.history["loss"] == [pytest.approx(expected, rel=1e-12)]
        assert history.history["val_loss"] == [pytest.approx(expected, rel=1e-12)]


def test_metrics_can_be_named_pairs():
    import functools

    X = np.array([[-1.0], [2.0], [3.0]])
    y = np.array([[0.0], [1.0], [0.0]])
    model = mg.Sequential(mg.Identity())
    opt = mg.SGD([mg.Parameter(np.zeros(1))], lr=0.1)
    logit_accuracy = ("acc", functools.partial(mg.accuracy, threshold=0.0))
    history = mg.fit(model, mg.BCEWithLogitsLoss(), opt, X, y, epochs=1, batch_size=3,
                     metrics=[logit_accuracy], progress=False)
    assert history.history["acc"] == [pytest.approx(2 / 3)]
    with pytest.raises(TypeError, match=r"named function or a \(name, function\) pair"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1,
               metrics=[functools.partial(mg.accuracy)], progress=False)


def _tiny_problem():
    X = np.random.default_rng(0).standard_normal((8, 2))
    return mg.Sequential(mg.Dense(2, 1, rng=0)), X, X[:, :1] * 2.0


def test_fit_refuses_an_optimizer_of_another_model():
    model, X, y = _tiny_problem()
    other = mg.SGD(mg.Sequential(mg.Dense(2, 1, rng=0)).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the optimizer holds none of the model's 1 parameters"):
        mg.fit(model, mg.MSELoss(), other, X, y, epochs=1, progress=False)


def test_fit_checks_callbacks_and_metrics_before_changing_anything(capsys):
    model, X, y = _tiny_problem()
    before = model[0].weight.data.copy()
    opt = mg.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="monitor 'val_los' is not among the logged"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=2, validation_data=(X, y),
               callbacks=[mg.EarlyStopping(monitor="val_los", mode="min")])
    with pytest.raises(ValueError, match="fit: metric 'accuracy' failed at epoch 1/2, batch 1/1"):
        mg.fit(model, mg.MSELoss(), opt, X, y + 0.5, epochs=2, batch_size=8,
               metrics=[("accuracy", accuracy_at_half)])
    with pytest.raises(TypeError, match="callbacks must be a list or tuple, got None"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, callbacks=None)
    np.testing.assert_array_equal(model[0].weight.data, before)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("monitor", "mode"), [("val_acc", "max"), ("auc", "max"),
                                               ("val_f1", "max"), ("val_loss", "min"),
                                               ("mae", "min"), ("val_r2", "max"),
                                               ("val_error_rate", "min"),
                                               ("val_balanced_accuracy", "max")])
def test_early_stopping_auto_mode(monitor, mode):
    assert mg.EarlyStopping(monitor=monitor).mode == mode


@pytest.mark.parametrize("monitor", ["val_brier_score", "val_reward", "val_accuracy_loss",
                                     "lr"])
def test_early_stopping_refuses_to_guess_the_mode_of_a_name_it_does_not_know(monitor):
    # "val_r2" was minimised; "val_brier_score" (smaller is better) would be maximised by
    # any rule that took "score" for larger-is-better.
    with pytest.raises(ValueError, match=rf"monitor '{monitor}'; pass mode='min' or "
                                         r"mode='max'"):
        mg.EarlyStopping(monitor=monitor)
    assert mg.EarlyStopping(monitor=monitor, mode="min").mode == "min"


def test_fortran_ordered_initial_weights_train():
    init = lambda shape, rng, dtype: np.asfortranarray(rng.standard_normal(shape).astype(dtype))  # noqa: E731
    dense = mg.Dense(3, 2, init=init, rng=0)
    opt = mg.SGD(dense.parameters(), lr=0.1)
    for _ in range(2):
        y = dense(np.ones((4, 3)))
        opt.zero_grad()
        dense.backward(np.ones_like(y))
        opt.step()
    np.testing.assert_allclose(dense.weight.grad, np.full((3, 2), 4.0))


def test_metric_errors_of_other_exception_classes_are_rewrapped_cleanly():
    import json

    def picky(pred, target):
        raise json.JSONDecodeError("bad", "doc", 0)  # a ValueError with a 3-argument init

    model, X, y = _tiny_problem()
    with pytest.raises(ValueError, match="fit: metric 'picky' failed at epoch 1/1, batch 1/1"):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
               batch_size=8, metrics=[picky], progress=False)


def test_fit_names_itself_for_ragged_data():
    model, X, y = _tiny_problem()
    opt = mg.SGD(model.parameters(), lr=0.1)
    ragged = [[1.0, 2.0], [3.0]]
    with pytest.raises(ValueError, match=r"^fit: X is ragged \(rows of different lengths\?\)"):
        mg.fit(model, mg.MSELoss(), opt, ragged, y[:2], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"^fit \(validation_data\): y is ragged"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, progress=False,
               validation_data=(X[:2], [[1.0], [2.0, 3.0]]))
