"""Models of integer ids (an `Embedding` first) through everything that takes data:
`fit`, `predict`, `summary`, `batches` (`check_layer`: tests/test_builtin_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

VOCAB, LENGTH = 6, 5


def contains_three(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of ids, labelled 1 when id 3 occurs in them (about half do)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, VOCAB, (n, LENGTH))
    ids[rng.random(n) < 0.5] %= 3  # ids 0..2 only: no 3
    return ids, (ids == 3).any(axis=1).astype(np.int64)


def id_classifier(seed: int = 0) -> mg.Sequential:
    return mg.Sequential(mg.Embedding(VOCAB, 8, rng=seed),
                         mg.LSTM(8, 16, return_sequences=False, rng=seed + 1),
                         mg.Bias(), mg.Dense(17, 2, rng=seed + 2))


def test_fit_trains_an_embedding_lstm_classifier_on_ids() -> None:
    X, y = contains_three(384, seed=0)
    X_val, y_val = contains_three(200, seed=1)
    assert 0.3 < y.mean() < 0.7
    model = id_classifier()
    table_before = model[0].weight.data.copy()
    history = mg.fit(model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=0.02),
                     X, y, epochs=6, batch_size=32, rng=0, progress=False,
                     validation_data=(X_val, y_val), metrics=[mg.accuracy])
    assert history.history["val_accuracy"][-1] >= 0.97, history.history["val_accuracy"]
    assert not np.array_equal(model[0].weight.data, table_before)  # the table trained
    pred = mg.predict(model, X_val, batch_size=64)
    assert pred.shape == (200, 2) and pred.dtype == np.float64
    np.testing.assert_allclose(pred, model(X_val), rtol=1e-12)
    assert np.mean(pred.argmax(axis=1) == y_val) >= 0.97


def test_predict_keeps_ids_integer_in_float32() -> None:
    model = mg.Sequential(mg.Embedding(VOCAB, 3, rng=0, dtype=np.float32),
                          mg.LSTM(3, 2, rng=1, dtype=np.float32))
    ids = np.arange(12).reshape(4, 3) % VOCAB
    out = mg.predict(model, ids.astype(np.int32), batch_size=3)
    assert out.shape == (4, 3, 2) and out.dtype == np.float32


def test_summary_of_an_id_model_takes_an_integer_dtype() -> None:
    model = id_classifier()
    text = mg.summary(model, (None, LENGTH), dtype=np.int64)
    assert "0 (Embedding)    (None, 5, 8)" in text
    assert "3 (Dense)        (None, 2)" in text
    with pytest.raises(TypeError, match=r"Embedding.*expected integer ids"):
        mg.summary(model, (None, LENGTH))  # float zeros by default: refused, clearly
    with pytest.raises(TypeError, match="summary: dtype must be a real numeric dtype"):
        mg.summary(model, (None, LENGTH), dtype=np.str_)


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_keep_integer_inputs_integer(shuffle: bool) -> None:
    X, y = contains_three(10, seed=2)
    parts = list(mg.batches(X.astype(np.int32), y, 4, shuffle=shuffle, rng=0))
    assert [xb.dtype for xb, _ in parts] == [np.int32] * 3
    assert sorted(map(tuple, np.concatenate([xb for xb, _ in parts]))) == \
        sorted(map(tuple, X))
