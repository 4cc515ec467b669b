"""examples/char_lm.py: both models learn more than character frequencies in a few
batches, the pieces are right, and importing it does nothing."""

from __future__ import annotations

import contextlib
import importlib
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import check_layer


def tiny(model: str, **changes: object) -> object:
    import char_lm

    config = dict(model=model, chars=16_000, epochs=2, hidden=48, embed=32, blocks=1, heads=2,
                  seq_len=32, batch_size=16, lr=1e-2, sample=40, progress=False, seed=0)
    config.update(changes)
    return char_lm.Config(**config)  # type: ignore[arg-type]


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_tiny_model_beats_the_unigram_baseline(model: str, capsys) -> None:
    import char_lm

    with one_blas_thread():  # small products: threads only contend (0.5 s, not 3 s)
        result = char_lm.main(tiny(model))
    # 62 batches; measured 16.8-18.0 over seeds 0-2 against the baseline's 24.8
    assert result["perplexity"] < 0.85 * result["unigram"]
    out = capsys.readouterr().out
    assert out.count("epoch ") == 2 and "unigram" in out
    assert "--- sampled from 'The ' ---\nThe " in out


def test_windows_shift_by_one_and_unigram_matches_its_definition() -> None:
    import char_lm

    inputs, targets = char_lm.windows(np.arange(10), 3)
    np.testing.assert_array_equal(inputs, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(targets, inputs + 1)
    # counts (add-one) 3 and 1 of 4: the test's two characters have p = 3/4 and 1/4
    got = char_lm.unigram_perplexity(np.array([0, 0]), np.array([0, 1]), 2)
    assert got == pytest.approx(math.exp(-(math.log(0.75) + math.log(0.25)) / 2))
    vocab = char_lm.Vocabulary("abca")
    assert vocab.decode(vocab.encode("cab")) == "cab" and len(vocab) == 3


def test_positions_layer_meets_the_contract() -> None:
    import char_lm

    check_layer(char_lm.Positions(5, 3, rng=0, dtype=np.float64), np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="at most 5"):
        char_lm.Positions(5, 3, rng=0)(np.ones((1, 6, 3), np.float32))


def test_importing_trains_nothing(capsys) -> None:
    import char_lm

    importlib.reload(char_lm)
    assert capsys.readouterr() == ("", "")
    assert isinstance(char_lm.build_model(tiny("lstm"), 10), mg.Sequential)


def test_layers_and_dropout_reach_the_lstm_and_default_to_one_layer_without() -> None:
    import char_lm

    default = char_lm.parse_args([])
    assert (default.layers, default.dropout) == (1, 0.0)
    lstm = char_lm.build_model(default, 10)[1]
    assert (lstm.num_layers, lstm.dropout) == (1, 0.0)
    config = char_lm.parse_args(["--layers", "2", "--dropout", "0.25"])
    lstm = char_lm.build_model(config, 10)[1]
    assert (lstm.num_layers, lstm.dropout) == (2, 0.25)
    assert "weight_ih_l1" in lstm.state_dict()


def test_a_tiny_two_layer_lstm_with_dropout_beats_the_unigram_baseline() -> None:
    import char_lm

    with one_blas_thread():
        result = char_lm.main(tiny("lstm", layers=2, dropout=0.1, sample=0, epochs=4))
    # measured 22.3 against the baseline's 24.8: the deeper model starts slower
    assert result["perplexity"] < 0.95 * result["unigram"]
