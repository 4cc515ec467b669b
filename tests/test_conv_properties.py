"""Property-based tests on images: random conv/pool stacks and conv graphs, valid by
construction (every kernel fits its padded input, channels divide by the groups), meet
the layer contract of `check_layer` -- finite differences included.

Shapes stay tiny and examples few: each example is a whole `check_layer` run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.layer_contract import check_layer

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

Shape = tuple[int, int, int]  # (channels, height, width) of a sample


class ImageBuilder:
    """Draws layers that fit a sample shape, and the shape they map it to."""

    def __init__(self, data: st.DataObject, seed: int) -> None:
        self.data = data
        self.rng = np.random.default_rng(seed)

    def draw(self, strategy: st.SearchStrategy) -> object:
        return self.data.draw(strategy)

    def conv(self, shape: Shape) -> tuple[mg.Layer, Shape]:
        c, h, w = shape
        groups = self.draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
        out = groups * self.draw(st.integers(1, 2))
        dilation = self.draw(st.integers(1, 2))
        stride = self.draw(st.integers(1, 2))
        padding = self.draw(st.sampled_from(["same", 0, 1] if stride == 1 else [0, 1]))
        pad = 0 if padding == "same" else padding
        # the largest kernel whose dilated extent fits the padded input on both axes
        largest = (min(h, w) + 2 * pad - 1) // dilation + 1
        kernel = self.draw(st.integers(1, min(3, largest)))
        layer = mg.Conv2D(c, out, kernel, stride, padding, dilation, groups,
                          bias=self.draw(st.booleans()), rng=self.rng)
        if padding == "same":
            return layer, (out, h, w)
        size = [(n + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1 for n in (h, w)]
        return layer, (out, size[0], size[1])

    def transposed(self, shape: Shape) -> tuple[mg.Layer, Shape]:
        c, h, w = shape
        stride, kernel = self.draw(st.integers(1, 2)), self.draw(st.integers(1, 3))
        padding = self.draw(st.integers(0, (kernel - 1) // 2))
        out_pad = self.draw(st.integers(0, stride - 1))
        layer = mg.ConvTranspose2D(c, 2, kernel, stride, padding, out_pad, rng=self.rng)
        size = [(n - 1) * stride - 2 * padding + kernel + out_pad for n in (h, w)]
        return layer, (2, size[0], size[1])

    def pool(self, shape: Shape) -> tuple[mg.Layer, Shape]:
        c, h, w = shape
        kernel = self.draw(st.integers(1, min(2, h, w)))
        stride = self.draw(st.integers(1, 2))
        padding = self.draw(st.integers(0, kernel // 2))
        kind = self.draw(st.sampled_from([mg.MaxPool2D, mg.AvgPool2D]))
        size = [(n + 2 * padding - kernel) // stride + 1 for n in (h, w)]
        return kind(kernel, stride, padding), (c, size[0], size[1])

    def layer(self, shape: Shape) -> tuple[mg.Layer, Shape]:
        kind = self.draw(st.sampled_from(["conv", "conv", "transposed", "pool", "tanh"]))
        if kind == "tanh":
            return mg.Tanh(), shape
        return getattr(self, kind)(shape)

    def stack(self, shape: Shape) -> tuple[mg.Sequential, Shape]:
        layers = []
        for _ in range(self.draw(st.integers(1, 3))):
            layer, shape = self.layer(shape)
            layers.append(layer)
        return mg.Sequential(*layers), shape


def sample_shapes() -> st.SearchStrategy[Shape]:
    return st.tuples(st.integers(1, 2), st.integers(2, 5), st.integers(2, 5))


@SETTINGS
@given(data=st.data(), shape=sample_shapes(), batch=st.integers(1, 2), seed=st.integers(0, 9),
       head=st.booleans())
def test_random_conv_pool_stacks_meet_the_layer_contract(data, shape, batch, seed, head):
    builder = ImageBuilder(data, seed)
    model, out = builder.stack(shape)
    if head:  # a classifier's end: every sample axis into a Dense
        model = mg.Sequential(model, mg.Flatten(),
                              mg.Dense(int(np.prod(out)), 2, bias=True, rng=seed))
    x = np.random.default_rng(seed).standard_normal((batch, *shape))
    # ... on NumPy, and moved to the Array API's strict reference (portability check)
    check_layer(model, x, seed=seed, backends=[pytest.importorskip("array_api_strict")])


@SETTINGS
@given(data=st.data(), shape=sample_shapes(), batch=st.integers(1, 2), seed=st.integers(0, 9))
def test_random_conv_graphs_meet_the_layer_contract(data, shape, batch, seed):
    """A residual conv block (x + f(x), f keeping the shape) beside a second branch,
    joined by `Concat` on the channel axis."""
    builder = ImageBuilder(data, seed)
    c = shape[0]
    kernel = data.draw(st.sampled_from([1, 3]))
    block = mg.Sequential(mg.Conv2D(c, c, kernel, padding="same", rng=builder.rng),
                          mg.Tanh(), mg.Conv2D(c, c, 1, rng=builder.rng))
    branch, branch_shape = builder.conv(shape)
    layers = {"f": (block, "input"), "residual": (mg.Add(), ("input", "f"))}
    if branch_shape[1:] == shape[1:]:  # the same size: it can join on channels
        layers["branch"] = (branch, "input")
        layers["out"] = (mg.Concat(axis=1), ("residual", "branch"))
    x = np.random.default_rng(seed).standard_normal((batch, *shape))
    check_layer(mg.Graph(layers), x, seed=seed)
