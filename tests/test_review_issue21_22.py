"""Regressions found by reviewing issues 21/22 as a new user: options accepted and ignored."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

import minigrad as mg


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 3)), rng.integers(0, 2, 12)


def test_fit_refuses_batch_size_with_an_iterable_of_batches() -> None:
    X, y = _data()
    model = mg.Sequential(mg.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match=r"fit: batch_size is for arrays or a dataset.*"
                                         r"got batch_size=5"):
        mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1),
               iter([(X, y)]), epochs=1, batch_size=5, progress=False)


def test_predict_refuses_batch_size_with_an_iterable_of_batches() -> None:
    X, _ = _data()
    model = mg.Sequential(mg.Dense(3, 2, rng=0))
    with pytest.raises(ValueError, match=r"predict: batch_size is for arrays or a dataset"):
        mg.predict(model, iter([X[:6], X[6:]]), batch_size=4)


def test_batch_size_still_defaults_and_applies_to_arrays_and_datasets() -> None:
    X, y = _data()

    class Rows:
        def __len__(self) -> int:
            return len(X)

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            return X[i], y[i]

    a, b = mg.Sequential(mg.Dense(3, 2, rng=0)), mg.Sequential(mg.Dense(3, 2, rng=0))
    ha = mg.fit(a, mg.CrossEntropyLoss(), mg.SGD(a.parameters(), lr=0.1), X, y, epochs=2,
                batch_size=5, rng=1, progress=False)
    hb = mg.fit(b, mg.CrossEntropyLoss(), mg.SGD(b.parameters(), lr=0.1), Rows(), epochs=2,
                batch_size=5, rng=1, progress=False)
    assert ha.history == hb.history
    # the defaults: one batch of 12 < 32 rows for fit; predict over a generator still works
    c = mg.Sequential(mg.Dense(3, 2, rng=0))
    opt = mg.SGD(c.parameters(), lr=0.1)
    steps: list[int] = []

    class Count(mg.Callback):
        def on_train_batch_end(self, batch: int, logs: Mapping[str, float]) -> None:
            steps.append(batch)

    mg.fit(c, mg.CrossEntropyLoss(), opt, X, y, epochs=1, callbacks=[Count()], progress=False)
    assert len(steps) == 1
    out = mg.predict(c, iter([X[:6], X[6:]]))
    assert np.allclose(out, mg.predict(c, X, 5))
