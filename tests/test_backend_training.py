"""Losses, `accuracy`, `batches`, `fit`, `predict`, `summary` and `save`/`load` on every
array library of `tests.backends.LIBRARIES`, against the same computation on NumPy.

Each loss runs on the same predictions and targets moved to the library: its value
(every reduction) and its gradient (with an upstream gradient for ``"none"``) must
equal NumPy's (float64: 1e-12) and come back in the library they went in as.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, expected_module, get, library, namespace_name, put
from tests.loss_cases import CASES, stackable

FOREIGN = [name for name in LIBRARIES if name != "numpy"]
N, C = 6, 4


def _regression(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return 2 * rng.standard_normal((N, 3)), rng.standard_normal((N, 3))


def _binary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    logits = 3 * rng.standard_normal((N, C))
    logits[0, 0], logits[1, 1] = 800.0, -800.0  # the stable forms' territory
    return logits, rng.integers(0, 2, (N, C)).astype(np.float64)


def _indices(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    logits = 3 * rng.standard_normal((N, C))
    logits[0] = [1e4, -1e4, 0.0, 5.0]  # a stable log-sum-exp keeps this finite
    target = rng.integers(0, C, N)
    target[2] = -100  # ignore_index's default
    return logits, target


def _indices_ignoring_1(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    logits, target = _indices(rng)
    target[2] = 1  # ignore_index=1 below
    return logits, target


def _sequence_indices(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((2, 3, C)), rng.integers(0, C, (2, 3))


def _probabilities(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p = rng.random((N, C))
    return 3 * rng.standard_normal((N, C)), p / p.sum(axis=1, keepdims=True)


def _log_probabilities(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    logits, target = _indices(rng)
    logits[0] = rng.standard_normal(C)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)), target


LossFactory = Callable[[str], mg.Loss[Any]]
WEIGHT = [0.5, 1.0, 2.0, 1.5]
LOSSES: dict[str, tuple[LossFactory, Callable[[np.random.Generator], tuple]]] = {
    "MSE": (lambda r: mg.MSELoss(r), _regression),
    "L1": (lambda r: mg.L1Loss(r), _regression),
    "Huber": (lambda r: mg.HuberLoss(r, delta=0.7), _regression),
    "SmoothL1": (lambda r: mg.SmoothL1Loss(r, beta=0.5), _regression),
    "SmoothL1-beta0": (lambda r: mg.SmoothL1Loss(r, beta=0.0), _regression),
    "BCEWithLogits": (lambda r: mg.BCEWithLogitsLoss(r), _binary),
    "BCEWithLogits-pos_weight": (lambda r: mg.BCEWithLogitsLoss(r, pos_weight=WEIGHT), _binary),
    "CrossEntropy": (lambda r: mg.CrossEntropyLoss(r), _indices),
    "CrossEntropy-options": (lambda r: mg.CrossEntropyLoss(
        r, weight=WEIGHT, ignore_index=1, label_smoothing=0.2), _indices_ignoring_1),
    "CrossEntropy-sequences": (lambda r: mg.CrossEntropyLoss(r, label_smoothing=0.1),
                               _sequence_indices),
    "CrossEntropy-probabilities": (lambda r: mg.CrossEntropyLoss(
        r, weight=WEIGHT, label_smoothing=0.1), _probabilities),
    "NLL": (lambda r: mg.NLLLoss(r, weight=WEIGHT), _log_probabilities),
}


def _from_case(name: str) -> Callable[[np.random.Generator], tuple]:
    """A configuration of tests/loss_cases.py as this table's data: its one input, or its
    several stacked on the loss's axis (the tuple form: tests/test_losses_more.py)."""
    axis = getattr(CASES[name].make("mean"), "stack_axis", None)

    def data(rng: np.random.Generator) -> tuple:
        inputs, target = CASES[name].data(rng)
        return (inputs[0] if axis is None else np.stack(inputs, axis=axis)), target
    return data


LOSSES.update({name: (CASES[name].make, _from_case(name)) for name in CASES
               if len(CASES[name].data(np.random.default_rng(0))[0]) == 1 or stackable(name)})


@pytest.mark.parametrize("lib_name", LIBRARIES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_numpy(name: str, reduction: str, lib_name: str) -> None:
    lib = library(lib_name)
    factory, data = LOSSES[name]
    rng = np.random.default_rng(len(name))
    pred, target = data(rng)
    home, moved = factory(reduction), factory(reduction)
    want = home(pred, target)
    got = moved(put(pred, lib), None if target is None else put(target, lib))  # None: triplets
    upstream = rng.standard_normal(np.shape(want)) if reduction == "none" else 0.7
    want_grad = home.backward(upstream)
    got_grad = moved.backward(put(upstream, lib) if reduction == "none" else upstream)
    assert namespace_name(got_grad) == expected_module(lib), "library in, library out"
    if reduction == "none":
        assert namespace_name(got) == expected_module(lib)
        got = get(got)
    else:
        assert type(got) is float
    assert np.all(np.isfinite(want)) and np.all(np.isfinite(want_grad))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(get(got_grad), want_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_loss_keeps_float32(lib_name: str) -> None:
    lib = library(lib_name)
    pred, target = _indices(np.random.default_rng(0))
    loss = mg.CrossEntropyLoss()
    loss(put(pred.astype(np.float32), lib), put(target, lib))
    assert get(loss.backward()).dtype == np.float32


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_a_target_of_another_library_is_refused_naming_both(lib_name: str) -> None:
    lib = library(lib_name)
    pred, target = _indices(np.random.default_rng(0))
    with pytest.raises(TypeError, match=rf"pred as {lib.__name__}\..* target as numpy\.ndarray"):
        mg.CrossEntropyLoss()(put(pred, lib), target)
    with pytest.raises(TypeError, match=rf"pred as numpy\.ndarray and target as {lib.__name__}"):
        mg.MSELoss()(pred, put(pred, lib))
    loss = mg.MSELoss(reduction="none")
    loss(put(pred, lib), put(pred, lib))
    with pytest.raises(TypeError, match=r"upstream gradient of .* got numpy\.ndarray"):
        loss.backward(np.ones_like(pred))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_class_index_errors_on_every_library(lib_name: str) -> None:
    lib = library(lib_name)
    pred, target = _indices(np.random.default_rng(0))
    target[1] = C
    with pytest.raises(ValueError, match=rf"class indices in \[0, {C}\).* got {C}"):
        mg.CrossEntropyLoss()(put(pred, lib), put(target, lib))
    with pytest.raises(TypeError, match="integer class indices"):
        mg.NLLLoss()(put(pred, lib), put(pred[:, 0], lib))


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_accuracy_matches_numpy(lib_name: str) -> None:
    lib = library(lib_name)
    rng = np.random.default_rng(1)
    scores, labels = rng.standard_normal((20, 3)), rng.integers(0, 3, 20)
    onehot = np.eye(3)[labels]
    logits, binary = rng.standard_normal((20, 1)), rng.integers(0, 2, 20)
    cases = [((scores, labels), {}), ((scores, onehot), {}),
             ((logits, binary), {"threshold": 0.0}), ((logits[:, 0], binary), {"threshold": 0.3})]
    for (p, t), options in cases:
        got = mg.accuracy(put(p, lib), put(t, lib), **options)
        assert type(got) is float
        assert got == mg.accuracy(p, t, **options)
    if lib is not np:
        with pytest.raises(TypeError, match=r"pred as .* target as numpy"):
            mg.accuracy(put(scores, lib), labels)


@pytest.mark.parametrize("lib_name", LIBRARIES)
@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_are_the_same_from_the_same_rng(lib_name: str, shuffle: bool) -> None:
    lib = library(lib_name)
    X, y = np.arange(14.0).reshape(7, 2), np.arange(7)
    home = list(mg.batches(X, y, 3, shuffle=shuffle, rng=4))
    moved = list(mg.batches(put(X, lib), put(y, lib), 3, shuffle=shuffle, rng=4))
    assert len(moved) == len(home) == 3
    for (xb, yb), (xh, yh) in zip(moved, home):
        assert namespace_name(xb) == namespace_name(yb) == expected_module(lib)
        np.testing.assert_array_equal(get(xb), xh)
        np.testing.assert_array_equal(get(yb), yh)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_batches_refuse_mixed_libraries(lib_name: str) -> None:
    lib = library(lib_name)
    with pytest.raises(TypeError, match=rf"X is {lib.__name__}\..* y is numpy\.ndarray"):
        mg.batches(put(np.ones((3, 2)), lib), np.ones(3), 2)


def classifier() -> mg.Sequential:
    return mg.Sequential(mg.Dense(3, 8, bias=True, rng=0), mg.Tanh(), mg.Dropout(0.2, rng=5),
                         mg.Dense(8, C, bias=True, rng=1))


def _classification_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.standard_normal((22, 3)), rng.integers(0, C, 22)


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_fit_matches_numpy(lib_name: str) -> None:
    lib = library(lib_name)
    X, y = _classification_data()
    home = classifier()
    moved = copy.deepcopy(home).to(lib)

    def train(model: mg.Sequential, to: Callable[[np.ndarray], Any]) -> mg.History:
        return mg.fit(model, mg.CrossEntropyLoss(label_smoothing=0.1),
                      mg.SGD(model.parameters(), lr=0.3, momentum=0.5), to(X), to(y), epochs=3,
                      batch_size=5, rng=7, metrics=[mg.accuracy], progress=False,
                      validation_data=(to(X[:9]), to(y[:9])))

    want = train(home, lambda a: a)
    got = train(moved, lambda a: put(a, lib))
    assert want.history.keys() == got.history.keys()
    for key, values in want.history.items():
        assert all(type(v) is float for v in got.history[key])
        np.testing.assert_allclose(got.history[key], values, rtol=1e-10, atol=1e-12)
    for (name, theirs), ours in zip(home.state_dict().items(), moved.state_dict().values()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_fit_refuses_data_of_another_library(lib_name: str) -> None:
    lib = library(lib_name)
    X, y = _classification_data()
    model = classifier().to(lib)
    optimizer = mg.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=rf"parameters are {lib.__name__}\..* X is numpy"):
        mg.fit(model, mg.CrossEntropyLoss(), optimizer, X, y, epochs=1, progress=False)
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"X has a non-finite value \(nan\) in row 4 \(column 2\)"):
        mg.fit(model, mg.CrossEntropyLoss(), optimizer, put(bad, lib), put(y, lib), epochs=1,
               progress=False)


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_predict_and_summary_on_a_moved_model(lib_name: str, capsys: Any) -> None:
    lib = library(lib_name)
    X, _ = _classification_data()
    home = classifier()
    moved = copy.deepcopy(home).to(lib)
    out = mg.predict(moved, put(X, lib), batch_size=8)  # 22 rows: a short last batch
    assert namespace_name(out) == expected_module(lib)
    np.testing.assert_allclose(get(out), mg.predict(home, X, batch_size=8), rtol=1e-12)
    assert mg.summary(moved, (None, 3)) == mg.summary(home, (None, 3))
    capsys.readouterr()


def _round_trip(source: mg.Sequential, target_lib: types.ModuleType, path: Any) -> mg.Sequential:
    mg.save(source, path)
    target = mg.Sequential(mg.Dense(3, 8, bias=True, rng=10), mg.Tanh(), mg.Dropout(0.2),
                           mg.Dense(8, C, bias=True, rng=11)).to(target_lib)
    mg.load(target, path)
    return target


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_a_file_saved_from_a_moved_model_loads_into_numpy_and_back(lib_name: str,
                                                                    tmp_path: Any) -> None:
    lib = library(lib_name)
    X, _ = _classification_data()
    source = classifier().eval().to(lib)
    weights = source.state_dict()
    want = get(source(put(X, lib)))
    at_home = _round_trip(source, np, tmp_path / "moved.npz").eval()
    assert all(type(p.data) is np.ndarray for p in at_home.parameters())
    assert all(np.array_equal(at_home.state_dict()[k], w) for k, w in weights.items())
    np.testing.assert_allclose(at_home(X), want, rtol=1e-12)
    back = _round_trip(at_home, lib, tmp_path / "home.npz").eval()
    assert all(namespace_name(p.data) == expected_module(lib) for p in back.parameters())
    assert all(np.array_equal(back.state_dict()[k], w) for k, w in weights.items())
    np.testing.assert_array_equal(get(back(put(X, lib))), want)  # the same computation
