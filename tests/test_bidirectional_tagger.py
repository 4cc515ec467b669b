"""examples/bidirectional_tagger.py: the bidirectional LSTM tags what needs the future,
the one-way LSTM cannot (its bound is 2/3), and importing the example does nothing."""

from __future__ import annotations

import importlib

import numpy as np


def test_bidirectional_tags_everything_and_one_way_stays_at_its_bound(capsys) -> None:
    import bidirectional_tagger

    results = bidirectional_tagger.main(epochs=5)
    assert results["bidirectional"] >= 0.98
    assert 0.6 <= results["one-way"] <= 0.7  # knowing x[t−1] alone: 2/3 at best
    out = capsys.readouterr().out
    assert "bidirectional LSTM: held-out tag accuracy" in out and "one-way LSTM" in out


def test_the_tags_are_the_larger_neighbour() -> None:
    import bidirectional_tagger

    x, tags = bidirectional_tagger.make_data(4, 6, np.random.default_rng(0))
    padded = np.pad(x, ((0, 0), (1, 1)))
    for t in range(6):
        np.testing.assert_array_equal(tags[:, t], np.maximum(padded[:, t], padded[:, t + 2]))
    model = bidirectional_tagger.build_model(True, seed=0)
    assert model[1].bidirectional and model(x).shape == (4, 6, 3)


def test_importing_trains_and_prints_nothing(capsys) -> None:
    import bidirectional_tagger

    importlib.reload(bidirectional_tagger)
    assert capsys.readouterr() == ("", "")
