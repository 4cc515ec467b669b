"""Activations, merges, Dropout and N-D input checks on every array library: what the
layer table of `tests.test_backend_layers` does not reach (extreme inputs, training-mode
randomness, mixed inputs, `as_nd`)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.core.nd import as_nd
from tests.backends import LIBRARIES, get, library, namespace_name, put

FOREIGN = [name for name in LIBRARIES if name != "numpy"]


@pytest.mark.parametrize("lib_name", FOREIGN)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_and_matches_numpy_at_the_extremes(lib_name: str, dtype) -> None:
    lib = library(lib_name)
    x = np.array([[-1e4, -745.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4]], dtype=dtype)
    want = backend.sigmoid(x)
    got = get(backend.sigmoid(put(x, lib)))
    assert got.dtype == dtype and np.all(np.isfinite(got))
    # relative to the value, down to the subnormals (torch.sigmoid flushes σ(-100) in
    # float32, 4e-44, to 0)
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("lib_name", FOREIGN)
@pytest.mark.parametrize("layer", [mg.Softmax(), mg.LogSoftmax(), mg.Softplus(), mg.GELU(),
                                   mg.SiLU(), mg.ELU(), mg.Tanh()], ids=repr)
def test_activations_stay_finite_on_huge_inputs(lib_name: str, layer: mg.Layer) -> None:
    lib = library(lib_name)
    x = np.array([[-1e4, -30.0, 0.0, 30.0, 1e4]], dtype=np.float32)
    want, want_grad = layer(x), layer.backward(np.ones_like(x))
    y = layer(put(x, lib))
    assert namespace_name(y) == lib.__name__
    g = get(layer.backward(put(np.ones_like(x), lib)))
    np.testing.assert_allclose(get(y), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, want_grad, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(g)) and g.dtype == np.float32


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_dropout_draws_the_same_masks_on_every_library(lib_name: str) -> None:
    lib = library(lib_name)
    home, moved = mg.Dropout(0.4, rng=7), mg.Dropout(0.4, rng=7).to(lib)
    x = np.random.default_rng(0).standard_normal((5, 6))
    for _ in range(3):  # a sequence of masks, not only the first
        y = moved(put(x, lib))
        assert namespace_name(y) == lib.__name__
        np.testing.assert_array_equal(get(y), home(x))
        g = np.arange(30.0).reshape(5, 6)
        np.testing.assert_array_equal(get(moved.backward(put(g, lib))), home.backward(g))


@pytest.mark.parametrize("lib_name", FOREIGN)
@pytest.mark.parametrize("merge", [mg.Add(), mg.Concat()], ids=repr)
def test_a_merge_of_two_libraries_is_refused_naming_both(lib_name: str, merge) -> None:
    lib = library(lib_name)
    name = re.escape(repr(merge))
    with pytest.raises(TypeError, match=rf"{name} got input 0 as {lib.__name__}\.\w+.*"
                                        r"input 1 as numpy\.ndarray"):
        merge(put(np.ones((2, 3)), lib), np.ones((2, 3)))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_merges_promote_like_numpy(lib_name: str) -> None:
    lib = library(lib_name)
    parts = [np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), np.ones((2, 3))]
    for merge in (mg.Add(), mg.Concat(axis=1)):
        want = merge(*parts)
        y = merge(*(put(p, lib) for p in parts))
        assert get(y).dtype == np.float64
        np.testing.assert_array_equal(get(y), want)
        grads = merge.backward(put(np.ones(get(y).shape), lib))
        assert [get(g).shape for g in grads] == [p.shape for p in parts]


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_as_nd_takes_any_library_and_refuses_mixing(lib_name: str) -> None:
    lib = library(lib_name)
    layer = mg.Identity()
    x = put(np.ones((2, 3, 4), np.float32), lib)
    got = as_nd(layer, x, expected="(N, T, 4)", ndims=(3,), sizes={2: 4})
    assert got is x  # valid and floating: no copy
    as_float64 = as_nd(layer, x, expected="(N, T, 4)", ndims=(3,), dtype=np.dtype(np.float64))
    assert namespace_name(as_float64) == lib.__name__ and get(as_float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, 5\), got \(2, 3, 4\)"):
        as_nd(layer, x, expected="(N, T, 5)", ndims=(3,), sizes={2: 5})
    weight = put(np.ones(4), lib)
    with pytest.raises(TypeError, match=rf"parameters as {lib.__name__}\..* got an input of "
                                        r"numpy\.ndarray"):
        as_nd(layer, np.ones((2, 3, 4)), expected="(N, T, 4)", ndims=(3,), like=weight)
    with pytest.raises(TypeError, match=r"parameters as numpy\.ndarray"):
        as_nd(layer, x, expected="(N, T, 4)", ndims=(3,), like=np.ones(4))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_graph_sums_fan_out_and_refuses_mismatched_branch_gradients(lib_name: str) -> None:
    lib = library(lib_name)

    class Squeeze(mg.Layer[None]):  # a broken layer: its gradient lost an axis
        def forward(self, x):
            self.cache = None
            return x

        def backward(self, grad_out):
            return grad_out[:, :1]

    graph = mg.Graph({"a": (mg.Tanh(), "input"), "b": (Squeeze(), "input"),
                      "out": (mg.Add(), ("a", "b"))})
    x = put(np.ones((2, 3)), lib)
    graph(x)
    with pytest.raises(ValueError, match=r"gradient of shape \(2, 3\).*returned shape \(2, 1\)"):
        graph.backward(put(np.ones((2, 3)), lib))
