"""Property-based tests: random architectures meet the layer contract; bad shapes raise.

Architectures are drawn from every built-in: Dense, Bias, Identity, Sigmoid, ReLU,
LeakyReLU, Tanh, Softmax, Dropout (in eval mode), nested Sequentials, and Graphs with
Add, Concat, residual connections and shared layers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.layer_contract import check_layer

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Parameter-free layers that keep the width: name -> factory.
ELEMENTWISE = {
    "Identity": mg.Identity,
    "Sigmoid": mg.Sigmoid,
    "ReLU": mg.ReLU,
    "LeakyReLU": lambda: mg.LeakyReLU(0.1),
    "Tanh": mg.Tanh,
    "Softmax": mg.Softmax,
    "Dropout": lambda: mg.Dropout(0.5, rng=0).eval(),
}
KINDS = [*ELEMENTWISE, "Dense", "Bias",
         "Sequential", "Graph", "residual", "shared", "shared-in-graph"]  # containers


class Builder:
    """Draws random layers from hypothesis ``data``; ``depth`` bounds the nesting."""

    def __init__(self, data: st.DataObject, seed: int) -> None:
        self.data = data
        self.rng = np.random.default_rng(seed)

    def draw(self, strategy: st.SearchStrategy) -> object:
        return self.data.draw(strategy)

    def layer(self, width: int, depth: int) -> tuple[mg.Layer, int]:
        """Any built-in layer (containers only while ``depth > 0``) for ``width`` inputs,
        and its output width."""
        kind = self.draw(st.sampled_from(KINDS if depth > 0 else KINDS[:-5]))
        if kind in ELEMENTWISE:
            return ELEMENTWISE[kind](), width
        if kind == "Dense":
            out = self.draw(st.integers(1, 4))
            return mg.Dense(width, out, rng=self.rng), out
        if kind == "Bias":
            return mg.Bias(), width + 1
        if kind == "Sequential":
            return self.sequential(width, depth - 1)
        if kind == "Graph":
            return self.graph(width, depth - 1)
        if kind == "residual":  # x + f(x), f ending in a Dense back to the width
            inner, inner_width = self.sequential(width, depth - 1)
            f = mg.Sequential(inner, mg.Dense(inner_width, width, rng=self.rng))
            return mg.Graph({"f": (f, "input"), "out": (mg.Add(), ("input", "f"))}), width
        # one Dense instance applied twice, an elementwise layer between
        dense = mg.Dense(width, width, rng=self.rng)
        between = ELEMENTWISE[self.draw(st.sampled_from(sorted(ELEMENTWISE)))]()
        if kind == "shared":
            return mg.Sequential(dense, between, dense), width
        return mg.Graph({"a": (dense, "input"), "b": (between, "a"), "c": (dense, "b"),
                         "out": (mg.Add(), ("a", "c"))}), width

    def sequential(self, width: int, depth: int) -> tuple[mg.Sequential, int]:
        layers = []
        for _ in range(self.draw(st.integers(1, 3))):
            layer, width = self.layer(width, depth)
            layers.append(layer)
        return mg.Sequential(*layers), width

    def graph(self, width: int, depth: int) -> tuple[mg.Graph, int]:
        """A random DAG: each node reads earlier nodes (a Dense may be a shared instance,
        Add joins nodes of one width, Concat any); the nodes no one reads are
        concatenated into the output."""
        widths = {"input": width}
        nodes: dict[str, tuple[mg.Layer | mg.MergeLayer, tuple[str, ...]]] = {}
        unread: set[str] = set()
        denses: list[tuple[mg.Dense, str]] = []  # each Dense node and its source
        for index in range(self.draw(st.integers(1, 6))):
            names = sorted(widths)
            kind = self.draw(st.sampled_from(["layer", "dense", "shared", "add", "concat"]))
            first = self.draw(st.sampled_from(names))
            fits = [(d, n) for d, used in denses for n in names
                    if widths[n] == d.in_features and n != used]
            if kind == "shared" and fits:  # another use of an existing Dense, on another input
                layer, source = fits[self.draw(st.integers(0, len(fits) - 1))]
                picked, out = [source], layer.out_features
            elif kind == "add":
                same = [name for name in names if widths[name] == widths[first]]
                picked = [first, *self.draw(st.lists(st.sampled_from(same), min_size=1,
                                                     max_size=2))]
                layer, out = mg.Add(), widths[first]
            elif kind == "concat":
                picked = [first, *self.draw(st.lists(st.sampled_from(names), min_size=1,
                                                     max_size=2))]
                layer, out = mg.Concat(), sum(widths[name] for name in picked)
            elif kind in ("dense", "shared"):
                picked, out = [first], self.draw(st.integers(1, 4))
                layer = mg.Dense(widths[first], out, rng=self.rng)
            else:
                picked = [first]
                layer, out = self.layer(widths[first], depth)
            if isinstance(layer, mg.Dense):
                denses.append((layer, picked[0]))
            name = f"n{index}"
            unread -= set(picked)
            unread.add(name)
            nodes[name] = (layer, tuple(picked))
            widths[name] = out
        ends = sorted(unread)
        if len(ends) > 1:
            nodes["out"] = (mg.Concat(), tuple(ends))
            return mg.Graph(nodes), sum(widths[name] for name in ends)
        return mg.Graph(nodes, output=ends[0]), widths[ends[0]]


@contextmanager
def kink_distance() -> Iterator[list[float]]:
    """Record, per forward of a ReLU or LeakyReLU, the smallest non-zero |input|.

    Exact zeros are structural (a ReLU's dead outputs, fed on) and stay zero under the
    finite-difference perturbations; an input *near* zero could cross the kink, where
    the function is not differentiable.
    """
    seen: list[float] = []
    originals = {cls: cls.function for cls in (mg.ReLU, mg.LeakyReLU)}

    def recording(original):
        def function(self, x):
            moving = np.abs(x[x != 0])
            seen.append(float(moving.min()) if moving.size else np.inf)
            return original(self, x)
        return function

    try:
        for cls, original in originals.items():
            cls.function = recording(original)
        yield seen
    finally:
        for cls, original in originals.items():
            cls.function = original


def away_from_kinks(model: mg.Layer, x: np.ndarray) -> None:
    """Discard examples whose ReLUs see an input within 1e-4 of 0: central differences
    with step 1e-6 move pre-activations by about 1e-6, so 100x that is safe."""
    with kink_distance() as seen:
        model(x)
    model.clear_cache()
    assume(min(seen, default=np.inf) > 1e-4)


@pytest.mark.parametrize(("kind", "depth"), [("sequential", 2), ("graph", 1)])
@SETTINGS
@given(data=st.data(), width=st.integers(1, 4), batch=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_random_architectures_meet_the_layer_contract(kind, depth, data, width, batch, seed):
    model, _ = getattr(Builder(data, seed), kind)(width, depth=depth)
    x = np.random.default_rng(seed).standard_normal((batch, width))
    away_from_kinks(model, x)
    check_layer(model, x)


@pytest.mark.parametrize("kind", ["sequential", "graph"])
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), width=st.integers(1, 4), batch=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_random_architectures_run_the_same_on_every_library(kind, data, width, batch, seed):
    """The same random models, moved to the Array API's strict reference and to torch:
    output and every gradient as on NumPy (check_layer's portability check)."""
    backends = [pytest.importorskip("array_api_strict"), pytest.importorskip("torch")]
    model, _ = getattr(Builder(data, seed), kind)(width, depth=1)
    x = np.random.default_rng(seed).standard_normal((batch, width))
    away_from_kinks(model, x)
    check_layer(model, x, backends=backends)


def test_kinks_are_detected():
    """The guard above is live: an input exactly at a kink's neighbourhood is seen."""
    with kink_distance() as seen:
        mg.ReLU()(np.array([[0.0, 1e-5, -2.0]]))
        mg.LeakyReLU()(np.array([[3.0]]))
    assert seen == [1e-5, 3.0]


# -- wrong shapes ------------------------------------------------------------------------

WRONG_SHAPES = st.one_of(
    st.tuples(st.integers(1, 5)),  # 1-D
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),  # 3-D
    st.tuples(st.integers(1, 5), st.integers(1, 6)),  # 2-D, maybe the wrong width
)


def expect_value_error(call, *phrases):
    """``call()`` must raise ValueError (not IndexError, not a result) naming a phrase."""
    try:
        result = call()
    except ValueError as exc:
        assert any(phrase in str(exc) for phrase in phrases), str(exc)
    else:
        raise AssertionError(f"accepted, giving {np.shape(result)}")


@SETTINGS
@given(data=st.data(), width=st.integers(1, 4), shape=WRONG_SHAPES,
       graph=st.booleans(), seed=st.integers(0, 2**16))
def test_wrong_input_shapes_always_raise_value_error(data, width, shape, graph, seed):
    builder = Builder(data, seed)
    body, _ = builder.graph(3, 1) if graph else builder.sequential(3, 2)
    model = mg.Sequential(mg.Dense(width, 3, rng=seed), body)  # fixes the input width
    assume(len(shape) < 2 or shape[-1] != width)  # Dense maps the last axis of any rank
    expect_value_error(lambda: model(np.zeros(shape)), "expected input of shape")


@SETTINGS
@given(data=st.data(), width=st.integers(1, 4), batch=st.integers(1, 4),
       shape=WRONG_SHAPES, graph=st.booleans(), seed=st.integers(0, 2**16))
def test_wrong_gradient_shapes_always_raise_value_error(data, width, batch, shape, graph,
                                                        seed):
    builder = Builder(data, seed)
    model, out = builder.graph(width, 1) if graph else builder.sequential(width, 2)
    model(np.random.default_rng(seed).standard_normal((batch, width)))
    assume(shape != (batch, out))
    expect_value_error(lambda: model.backward(np.zeros(shape)),
                       "expected a gradient of shape")


LOSSES = [mg.MSELoss, mg.BCEWithLogitsLoss, mg.CrossEntropyLoss]
SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@pytest.mark.parametrize("make", LOSSES, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data(), target=SHAPES)
def test_losses_refuse_wrong_target_shapes(make, data, target):
    loss = make()
    if isinstance(loss, mg.CrossEntropyLoss):  # logits (N, C); targets (N,) or (N, C)
        pred = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
        assume(target not in ((pred[0],), pred))
        targets = np.zeros(target, dtype=np.int64)
    else:
        pred = data.draw(SHAPES)
        assume(target != pred)
        targets = np.zeros(target)
    expect_value_error(lambda: loss(np.zeros(pred), targets), "expected target of shape")
