"""Property-based tests: random architectures meet the layer contract; bad shapes raise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import check_layer

# Each entry: (name, builder) where builder(width, seed) -> (layer, new_width).
LayerFactory = Callable[[int, int], tuple[mg.Layer, int]]


def dense(out: int) -> LayerFactory:
    return lambda width, seed: (mg.Dense(width, out, rng=seed), out)


SAME_WIDTH: dict[str, LayerFactory] = {
    "Sigmoid": lambda width, seed: (mg.Sigmoid(), width),
    "Identity": lambda width, seed: (mg.Identity(), width),
    "Bias": lambda width, seed: (mg.Bias(), width + 1),
}

layer_specs = st.one_of(
    st.sampled_from(sorted(SAME_WIDTH)).map(lambda name: SAME_WIDTH[name]),
    st.integers(1, 5).map(dense),
)

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def build(specs: list[LayerFactory], width: int, seed: int) -> tuple[mg.Sequential, int]:
    layers = []
    for index, spec in enumerate(specs):
        layer, width = spec(width, seed + index)
        layers.append(layer)
    return mg.Sequential(*layers), width


@SETTINGS
@given(specs=st.lists(layer_specs, min_size=1, max_size=6), width=st.integers(1, 4),
       batch=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_random_sequentials_meet_the_layer_contract(specs, width, batch, seed):
    model, _ = build(specs, width, seed)
    x = np.random.default_rng(seed).standard_normal((batch, width))
    check_layer(model, x)


@SETTINGS
@given(specs=st.lists(layer_specs, min_size=1, max_size=6), width=st.integers(1, 4),
       wrong=st.one_of(st.integers(1, 6), st.tuples(st.integers(1, 3)),
                       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))),
       seed=st.integers(0, 2**16))
def test_wrong_input_shapes_always_raise_value_error(specs, width, wrong, seed):
    model, _ = build([dense(3), *specs], width, seed)
    shape = (2, wrong) if isinstance(wrong, int) else wrong
    if shape == (2, width):
        shape = (2, width + 1)
    try:
        model(np.zeros(shape))
    except ValueError as exc:
        assert "expected input of shape" in str(exc)
    else:
        raise AssertionError(f"input of shape {shape} was accepted by {model!r}")


@SETTINGS
@given(specs=st.lists(layer_specs, min_size=1, max_size=6), width=st.integers(1, 4),
       batch=st.integers(1, 4), extra=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_wrong_gradient_shapes_always_raise_value_error(specs, width, batch, extra, seed):
    model, out_width = build(specs, width, seed)
    model(np.zeros((batch, width)))
    try:
        model.backward(np.zeros((batch, out_width + extra)))
    except ValueError as exc:
        assert "expected a gradient of shape" in str(exc)
    else:
        raise AssertionError("a gradient of the wrong shape was accepted")
