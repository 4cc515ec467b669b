"""`mg.batches`: sizes, coverage, pairing, determinism and eager argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def dataset(n: int = 10):
    X = np.arange(2 * n, dtype=np.float64).reshape(n, 2)  # row i is (2i, 2i + 1)
    y = np.arange(n)
    return X, y


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("n", "size", "sizes"), [(10, 3, [3, 3, 3, 1]), (10, 5, [5, 5]),
                                                  (4, 10, [4]), (1, 1, [1])])
def test_sizes_keep_the_last_partial_batch_and_cover_every_sample_once(shuffle, n, size, sizes):
    X, y = dataset(n)
    got = list(mg.batches(X, y, size, shuffle=shuffle, rng=0))
    assert [len(xb) for xb, _ in got] == sizes
    assert [len(yb) for _, yb in got] == sizes
    seen = np.concatenate([yb for _, yb in got])
    assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in got:  # rows stay paired with their targets
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)


def test_without_shuffle_batches_are_in_order_and_are_views():
    X, y = dataset()
    got = list(mg.batches(X, y, 4, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), y)
    assert all(np.shares_memory(xb, X) for xb, _ in got)


def test_shuffle_follows_the_rng():
    X, y = dataset(50)

    def order(rng):
        return np.concatenate([yb for _, yb in mg.batches(X, y, 7, rng=rng)])

    np.testing.assert_array_equal(order(3), order(np.random.default_rng(3)))
    np.testing.assert_array_equal(order(np.random.RandomState(3)), order(np.random.RandomState(3)))
    assert not np.array_equal(order(3), order(4))
    assert not np.array_equal(order(3), np.arange(50))
    generator = np.random.default_rng(5)  # one generator, successive epochs: new orders
    assert not np.array_equal(order(generator), order(generator))


def test_the_global_numpy_rng_is_never_touched():
    X, y = dataset()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    list(mg.batches(X, y, 3, rng=1))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_multi_dimensional_targets_are_batched_along_the_first_axis():
    X, _ = dataset(6)
    Y = np.eye(6)
    for xb, yb in mg.batches(X, Y, 4, rng=0):
        np.testing.assert_array_equal(xb[:, 0] / 2, yb.argmax(axis=1))


@pytest.mark.parametrize("size", [0, -1, 2.5, True, "3", None])
def test_bad_batch_size_is_refused_on_the_call(size):
    X, y = dataset()
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        mg.batches(X, y, size)  # not iterated: the check happens at once


def test_mismatched_lengths_are_refused_on_the_call():
    X, y = dataset()
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        mg.batches(X, y[:9], 2)
    with pytest.raises(ValueError, match="one row per sample"):
        mg.batches(X, np.float64(1.0), 2)
