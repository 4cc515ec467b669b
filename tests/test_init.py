"""Initializers against their published formulas (Glorot & Bengio 2010, He et al. 2015):
bounds, sample moments of large draws, fans, determinism, dtypes, and Dense's use of them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg

FAN_IN, FAN_OUT = 200, 1000  # 2e5 draws: sample moments within a fraction of a percent


def draw(initializer, shape=(FAN_IN, FAN_OUT), seed=0, dtype=np.float64):
    return initializer(shape, np.random.default_rng(seed), np.dtype(dtype))


def assert_moments(w, mean, std):
    """Sample mean within 5 standard errors, sample std within 1.5 %."""
    assert abs(w.mean() - mean) < 5 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.015)


# (initializer, distribution, the std the formula gives for (FAN_IN, FAN_OUT))
FORMULAS = {
    "xavier_uniform": (mg.init.xavier_uniform(), "uniform", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "xavier_uniform(gain=3)": (mg.init.xavier_uniform(3.0), "uniform",
                               3 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "xavier_normal": (mg.init.xavier_normal(), "normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "xavier_normal(gain=0.5)": (mg.init.xavier_normal(0.5), "normal",
                                0.5 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "he_uniform": (mg.init.he_uniform(), "uniform", math.sqrt(2 / FAN_IN)),
    "he_normal": (mg.init.he_normal(), "normal", math.sqrt(2 / FAN_IN)),
    "normal(0.3)": (mg.init.normal(0.3), "normal", 0.3),
}


@pytest.mark.parametrize("name", FORMULAS)
def test_variance_scaling_moments_and_bounds(name):
    initializer, distribution, std = FORMULAS[name]
    w = draw(initializer)
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == np.float64
    assert_moments(w, 0.0, std)
    if distribution == "uniform":
        bound = math.sqrt(3) * std  # U(−a, a) has std a/√3: a = √(6/(…)) as published
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.999 * bound  # the whole interval is used
    else:
        assert np.abs(w).max() > 4 * std  # tails: a uniform of the same std stops at 1.73σ


def test_uniform_is_the_interval():
    w = draw(mg.init.uniform(-1.0, 3.0))
    assert w.min() >= -1.0 and w.max() <= 3.0
    assert w.min() < -0.999 and w.max() > 2.999
    assert_moments(w, 1.0, 4 / math.sqrt(12))


def test_normal_takes_a_mean():
    assert_moments(draw(mg.init.normal(2.0, mean=-1.0)), -1.0, 2.0)


def test_zeros():
    w = draw(mg.init.zeros(), (3, 2), dtype=np.float32)
    assert w.dtype == np.float32 and not w.any()


@pytest.mark.parametrize(
    ("shape", "std"),
    [
        ((300, 700), math.sqrt(2 / 1000)),  # fans (in, out) = the Dense weight's (rows, cols)
        ((700, 300), math.sqrt(2 / 1000)),
        ((100_000,), math.sqrt(2 / 200_000)),  # 1-D: fan_in = fan_out = the length
    ],
)
def test_fans_come_from_the_shape(shape, std):
    assert_moments(draw(mg.init.xavier_normal(), shape), 0.0, std)


def test_he_uses_fan_in_only():
    narrow, wide = draw(mg.init.he_normal(), (50, 4000)), draw(mg.init.he_normal(), (4000, 50))
    assert_moments(narrow, 0.0, math.sqrt(2 / 50))
    assert_moments(wide, 0.0, math.sqrt(2 / 4000))


@pytest.mark.parametrize("name", [*FORMULAS, "uniform(-1, 1)"])
def test_draws_are_deterministic_given_the_rng_and_keep_the_dtype(name):
    initializer = FORMULAS[name][0] if name in FORMULAS else mg.init.uniform(-1, 1)
    a, b = draw(initializer, (5, 4), seed=3), draw(initializer, (5, 4), seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draw(initializer, (5, 4), seed=4))
    legacy = initializer((5, 4), np.random.RandomState(3), np.dtype(np.float64))
    np.testing.assert_array_equal(legacy, initializer((5, 4), np.random.RandomState(3),
                                                      np.dtype(np.float64)))
    w32 = draw(initializer, (5, 4), seed=3, dtype=np.float32)
    assert w32.dtype == np.float32
    np.testing.assert_array_equal(w32, a.astype(np.float32))


def test_the_global_rng_is_never_touched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    mg.Dense(4, 3, init=mg.init.he_normal(), rng=None)
    mg.Dropout(0.5)(np.ones((2, 2)))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_make_rng():
    generator = np.random.default_rng(0)
    assert mg.init.make_rng(generator) is generator
    legacy = np.random.RandomState(0)
    assert mg.init.make_rng(legacy) is legacy
    assert mg.init.make_rng(7).random() == np.random.default_rng(7).random()
    assert isinstance(mg.init.make_rng(None), np.random.Generator)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: mg.init.uniform(1.0, 1.0), "uniform needs low < high"),
        (lambda: mg.init.uniform(2.0, 1.0), "uniform needs low < high"),
        (lambda: mg.init.uniform(float("nan"), 1.0), "uniform needs low < high"),
        (lambda: mg.init.normal(0.0), "normal needs std > 0"),
        (lambda: mg.init.normal(float("nan")), "normal needs std > 0"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dense_with_he_normal_draws_the_formula_from_the_given_rng():
    layer = mg.Dense(64, 32, init=mg.init.he_normal(), rng=np.random.default_rng(0))
    expected = np.random.default_rng(0).normal(0.0, math.sqrt(2 / 64), (64, 32))
    np.testing.assert_array_equal(layer.weight.data, expected)
    again = mg.Dense(64, 32, init=mg.init.he_normal(), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)
    float32 = mg.Dense(64, 32, init=mg.init.he_normal(), rng=0, dtype=np.float32)
    assert float32.weight.dtype == np.float32
    np.testing.assert_array_equal(float32.weight.data, expected.astype(np.float32))


def test_dense_default_init_is_glorot_uniform():
    layer = mg.Dense(300, 500, rng=1)
    bound = math.sqrt(6 / (300 + 500))
    assert np.abs(layer.weight.data).max() <= bound
    assert_moments(layer.weight.data, 0.0, bound / math.sqrt(3))
    np.testing.assert_array_equal(
        layer.weight.data, draw(mg.init.xavier_uniform(), (300, 500), seed=1)
    )
