"""fit, its validation and predict on map-style datasets and iterables of batches: the
same training as on arrays (same rng, same batches), callbacks and metrics, one-shot
generators, and every refusal."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.training.sources import data_kind

N = 11


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, 3)), rng.integers(0, 2, N), rng.uniform(0.5, 2, N)


class Samples:
    """A PyTorch-style map-style dataset: one (x, y[, w]) sample per index."""

    def __init__(self, X, y, w=None):
        self.X, self.y, self.w = X, y, w
        self.fetched = []

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.fetched.append(i)
        return (self.X[i], self.y[i]) if self.w is None else (self.X[i], self.y[i], self.w[i])


class BatchedSamples(Samples):
    def __getitems__(self, indices):  # PyTorch's batched fetch: a list of samples
        self.fetched.append(list(indices))
        return [(self.X[i], self.y[i]) for i in indices]


class Batches:
    """A re-iterable object of batches (as a DataLoader): starts over each epoch."""

    def __init__(self, X, y, size, w=None):
        self.X, self.y, self.size, self.w = X, y, size, w
        self.iterations = 0

    def __iter__(self):
        self.iterations += 1
        for s in range(0, len(self.X), self.size):
            part = slice(s, s + self.size)
            yield ((self.X[part], self.y[part]) if self.w is None
                   else (self.X[part], self.y[part], self.w[part]))


def model_opt(seed=0):
    model = mg.Sequential(mg.Dense(3, 4, rng=seed), mg.Tanh(), mg.Dense(4, 2, rng=seed + 1))
    return model, mg.SGD(model.parameters(), lr=0.1, momentum=0.9)


def fit(data, y=None, **options):
    model, opt = model_opt()
    options = {"epochs": 3, "progress": False, "metrics": [mg.accuracy], **options}
    if data_kind(data) != "iterable":  # an iterable's batches come as they are
        options.setdefault("batch_size", 4)
    return model, mg.fit(model, mg.CrossEntropyLoss(), opt, data, y, **options)


def same(a, b):
    np.testing.assert_array_equal(a[0][0].weight.data, b[0][0].weight.data)
    assert a[1].history == b[1].history


@pytest.mark.parametrize("dataset", [Samples, BatchedSamples])
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_map_style_dataset_trains_as_its_arrays(dataset, shuffle):
    X, y, _ = arrays()
    reference = fit(X, y, shuffle=shuffle, rng=3, validation_data=(X, y))
    data = dataset(X, y)
    same(fit(data, shuffle=shuffle, rng=3, validation_data=dataset(X, y)), reference)
    if dataset is BatchedSamples:  # one fetch per batch: 3 batches x 3 epochs
        assert len(data.fetched) == 9 and all(isinstance(f, list) for f in data.fetched)
    else:
        assert sorted(data.fetched) == sorted(list(range(N)) * 3)
        assert (data.fetched[:N] != list(range(N))) == shuffle


def test_dataset_sample_weights_train_as_array_sample_weights():
    X, y, w = arrays()
    same(fit(Samples(X, y, w), validation_data=Samples(X, y, w), rng=5),
         fit(X, y, sample_weight=w, validation_data=(X, y, w), rng=5))


def test_an_iterable_of_batches_trains_as_the_arrays_unshuffled():
    X, y, w = arrays()
    reference = fit(X, y, shuffle=False, sample_weight=w, validation_data=(X, y))
    batches = Batches(X, y, 4, w)
    same(fit(batches, validation_data=Batches(X, y, 4)), reference)
    assert batches.iterations == 3  # re-iterated each epoch


def test_a_generator_with_steps_per_epoch_draws_on_across_epochs():
    X, y, _ = arrays()

    def forever():
        while True:
            yield from iter(Batches(X, y, 4))

    same(fit(forever(), steps_per_epoch=3, shuffle=False), fit(X, y, shuffle=False))
    # a single epoch of a one-shot generator needs no steps_per_epoch
    same(fit(iter(Batches(X, y, 4)), epochs=1), fit(X, y, epochs=1, shuffle=False))


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    X, y, _ = arrays()
    with pytest.warns(UserWarning, match="the data ran out after 2 complete epoch"):
        _, history = fit(iter(list(Batches(X, y, 4)) * 2), steps_per_epoch=3, epochs=5)
    assert history.epoch == [0, 1]
    with pytest.warns(UserWarning, match="ran out after 1 complete"):  # mid-epoch
        _, history = fit(iter(list(Batches(X, y, 4))[:2]), steps_per_epoch=3, epochs=5)
    assert history.epoch == [0]


def test_torch_dataset_and_dataloader_train_a_torch_model():
    torch = pytest.importorskip("torch")
    X, y, _ = arrays()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    reference = fit(X, y, shuffle=False)
    for data in (torch.utils.data.TensorDataset(Xt, yt),
                 torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xt, yt),
                                             batch_size=4)):
        model = model_opt()[0]
        model.to(torch)
        h = mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1,
                                                        momentum=0.9),
                   data, epochs=3, shuffle=False, progress=False, metrics=[mg.accuracy],
                   **({} if isinstance(data, torch.utils.data.DataLoader)
                      else {"batch_size": 4}))
        np.testing.assert_allclose(h.history["loss"], reference[1].history["loss"],
                                   rtol=1e-12)
        out = mg.predict(model, data)
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (N, 2)


class Log(mg.Callback):
    def on_train_begin(self, model):
        self.events = []

    def on_train_batch_end(self, batch, logs):
        self.events.append(batch)

    def on_epoch_end(self, epoch, logs):
        self.events.append(("epoch", epoch, sorted(logs)))
        return False


def test_callbacks_early_stopping_and_checkpoints_work_on_datasets(tmp_path):
    X, y, _ = arrays()
    log = Log()
    stop = mg.EarlyStopping(patience=0, monitor="val_loss", min_delta=1e9)
    checkpoint = mg.ModelCheckpoint(tmp_path / "best.npz")
    _, history = fit(Batches(X, y, 4), validation_data=Samples(X, y),
                     callbacks=[log, stop, checkpoint], epochs=5)
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert log.events == [0, 1, 2, ("epoch", 0, keys), 0, 1, 2, ("epoch", 1, keys)]
    assert history.epoch == [0, 1] and stop.stopped_epoch == 1
    assert (tmp_path / "best.npz").exists()


def test_the_progress_bar_counts_unknown_lengths(capsys):
    X, y, _ = arrays()
    fit((b for b in Batches(X, y, 4)), epochs=1, progress=True)
    assert "Epoch 1/1" in capsys.readouterr().err


def test_predict_on_datasets_and_iterables():
    X, y, _ = arrays()
    model, _ = model_opt()
    expected = mg.predict(model, X)
    for data in (Samples(X, y), BatchedSamples(X, y), Batches(X, y, 4),
                 iter(Batches(X, y, 4)), (xb for xb, _ in Batches(X, y, 5))):
        size = 3 if data_kind(data) == "map" else None
        np.testing.assert_allclose(mg.predict(model, data, batch_size=size), expected,
                                   rtol=1e-15)

    class Inputs:  # items that are the inputs alone
        def __len__(self):
            return N

        def __getitem__(self, i):
            return X[i]

    np.testing.assert_allclose(mg.predict(model, Inputs()), expected, rtol=1e-15)
    np.testing.assert_allclose(mg.predict(model, Batches(X, y, 4), steps=2), expected[:8],
                               rtol=1e-15)


# -- refusals ----------------------------------------------------------------------------


class Bad:
    def __init__(self, item):
        self.item = item

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return self.item


@pytest.mark.parametrize(
    ("data", "options", "error", "match"),
    [
        (Bad(np.zeros(3)), {}, TypeError,
         r"each dataset item must be a pair \(x, y\) or a triple \(x, y, sample_weight\).*"
         "item 0 is a ndarray"),
        (Bad((np.zeros(3),)), {}, TypeError, "item 0 is a tuple of 1"),
        (Bad((np.zeros(3), 0, -1.0)), {}, ValueError, "sample_weight must be finite and >= 0"),
        (Bad((np.full(3, np.nan), 0)), {}, ValueError, "x has a non-finite value"),
        ([], {"y": None}, TypeError, "y is missing"),
        (Bad((np.zeros(3), 0)), {"y": np.zeros(3)}, TypeError,
         "fit: y must be None when X is a dataset"),
        (Bad((np.zeros(3), 0)), {"sample_weight": np.ones(3)}, TypeError,
         "fit: sample_weight must be None when X is a dataset"),
        (Bad((np.zeros(3), 0)), {"steps_per_epoch": 2}, ValueError,
         "steps_per_epoch is for an iterable of batches"),
        ({"x": 1}, {}, TypeError, "fit: X must be arrays, a dataset"),
        (Batches(np.zeros((0, 3)), np.zeros(0), 4), {}, ValueError,
         "fit: X gave no batches in epoch 1"),
        (None, {"epochs": 2}, ValueError,
         r"one-shot iterator \(generator\) and epochs=2: .* pass steps_per_epoch"),
        (None, {"steps_per_epoch": 0}, ValueError, "steps_per_epoch must be an int >= 1"),
        (iter([np.zeros((2, 3))]), {"epochs": 1}, TypeError,
         r"each batch must be a pair \(xb, yb\).*batch 1 is a ndarray"),
        (iter([(np.zeros((2, 3)), np.zeros(3, int))]), {"epochs": 1}, ValueError,
         "batch 1.*X and y must have the same number of samples"),
        (Bad((np.zeros(3), 0)), {"validation_data": iter([]), "epochs": 1}, ValueError,
         "validation_data gave no batches"),
        (Bad((np.zeros(3), 0)), {"validation_data": np.zeros(3)}, TypeError,
         r"validation_data must be a tuple \(X_val, y_val\)"),
        (Bad((np.zeros(3), 0)), {"validation_data": (np.zeros(3),)}, TypeError,
         "got a tuple of 1"),
        (Bad((np.zeros(3), 0)), {"validation_steps": 2}, ValueError,
         "validation_steps needs validation_data"),
    ],
)
def test_bad_data_is_refused(data, options, error, match):
    if data is None:
        data = (b for b in [])
    model, opt = model_opt()
    options = {"epochs": 1, "progress": False, "shuffle": False, **options}
    y = options.pop("y", None)
    with pytest.raises(error, match=match):
        mg.fit(model, mg.CrossEntropyLoss(), opt, data, y, **options)


class Empty:
    def __len__(self):
        return 0

    def __getitem__(self, i):
        raise IndexError(i)


def test_empty_datasets_and_bad_predict_arguments_are_refused():
    model, opt = model_opt()
    with pytest.raises(ValueError, match=r"fit: the dataset is empty \(len 0\)"):
        mg.fit(model, mg.CrossEntropyLoss(), opt, Empty(), epochs=1)
    with pytest.raises(ValueError, match="predict: the generator gave no batches"):
        mg.predict(model, (x for x in []))
    with pytest.raises(ValueError, match="predict: steps is for an iterable"):
        mg.predict(model, np.zeros((2, 3)), steps=1)
    with pytest.raises(ValueError, match="predict: steps must be an int >= 1"):
        mg.predict(model, iter([np.zeros((2, 3))]), steps=0)
    with pytest.raises(ValueError, match="data_parallel does not support"):

        class Strategy:
            def begin(self, *args, **kwargs):
                raise AssertionError("not reached")

        mg.fit(model, mg.CrossEntropyLoss(), opt, Samples(*arrays()[:2]), epochs=1,
               data_parallel=Strategy())


def test_no_warning_when_the_data_lasts():
    X, y, _ = arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(iter(list(Batches(X, y, 4)) * 3), steps_per_epoch=3, epochs=3)
