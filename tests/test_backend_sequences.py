"""The sequence layers' own inputs on every array library: attention masks, initial
recurrent states, padding ids, attention dropout, running statistics in evaluation --
each equal to NumPy's, and each refused (naming both libraries) when it comes from
another library than the layer's parameters.

(`tests/test_backend_layers.py` covers every built-in's plain forward and backward.)
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from tests.backends import LIBRARIES, get, library, put

OTHER_LIBRARIES = [name for name in LIBRARIES if name != "numpy"]


def moved(layer: mg.Module, lib_name: str) -> tuple[mg.Module, object]:
    lib = library(lib_name)
    return copy.deepcopy(layer).to(lib), lib


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
@pytest.mark.parametrize("causal", [False, True])
def test_attention_masks_and_dropout_match_numpy(lib_name: str, causal: bool) -> None:
    rng = np.random.default_rng(0)
    layer = mg.MultiHeadAttention(4, 2, causal=causal, dropout=0.3, rng=1)
    other, lib = moved(layer, lib_name)
    x = rng.standard_normal((2, 5, 4))
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True
    g = rng.standard_normal((2, 5, 4))
    want = layer(x, key_padding_mask=padding), layer.backward(g)
    got = other(put(x, lib), key_padding_mask=put(padding, lib)), other.backward(put(g, lib))
    for a, b in zip(got, want, strict=True):  # dropout masks from the same rng, too
        np.testing.assert_allclose(get(a), b, rtol=1e-12, atol=1e-12)
    for p, q in zip(other.parameters(), layer.parameters(), strict=True):
        np.testing.assert_allclose(get(p.grad), q.grad, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match=r"key_padding_mask.*numpy"):
        other(put(x, lib), key_padding_mask=padding)


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
def test_cross_attention_padding_matches_numpy(lib_name: str) -> None:
    rng = np.random.default_rng(1)
    layer = mg.CrossAttention(4, 2, rng=0)
    other, lib = moved(layer, lib_name)
    query, context = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 4))
    padding = np.array([[False] * 4, [False, False, True, True]])
    want = layer(query, context, key_padding_mask=padding)
    got = other(put(query, lib), put(context, lib), key_padding_mask=put(padding, lib))
    np.testing.assert_allclose(get(got), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_initial_state_and_final_state_match_numpy(lib_name: str, kind: str) -> None:
    rng = np.random.default_rng(2)
    layer = getattr(mg, kind)(3, 2, return_sequences=False, rng=0)
    other, lib = moved(layer, lib_name)
    x = rng.standard_normal((2, 4, 3))
    parts = [rng.standard_normal((2, 2)) for _ in range(2 if kind == "LSTM" else 1)]
    state = tuple(parts) if kind == "LSTM" else parts[0]
    state_there = tuple(put(p, lib) for p in parts) if kind == "LSTM" else put(parts[0], lib)
    g = rng.standard_normal((2, 2))
    np.testing.assert_allclose(get(other(put(x, lib), state_there)), layer(x, state),
                               rtol=1e-12, atol=1e-12)
    other.backward(put(g, lib))
    layer.backward(g)
    for ours, theirs in [(other.final_state, layer.final_state),
                         (other.initial_state_grad, layer.initial_state_grad)]:
        ours_parts = ours if isinstance(ours, tuple) else (ours,)
        theirs_parts = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours_parts, theirs_parts, strict=True):
            assert not isinstance(a, np.ndarray)
            np.testing.assert_allclose(get(a), b, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match=r"initial_state.*numpy"):
        other(put(x, lib), state)


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
def test_embedding_padding_idx_and_mixing(lib_name: str) -> None:
    layer = mg.Embedding(5, 3, padding_idx=1, rng=0)
    other, lib = moved(layer, lib_name)
    ids = np.array([[1, 3, 3], [4, 1, 0]], dtype=np.int32)
    g = np.random.default_rng(3).standard_normal((2, 3, 3))
    np.testing.assert_allclose(get(other(put(ids, lib))), layer(ids), rtol=0)
    other.backward(put(g, lib))
    layer.backward(g)
    np.testing.assert_allclose(get(other.weight.grad), layer.weight.grad, rtol=1e-12)
    assert not get(other.weight.grad)[1].any()
    with pytest.raises(TypeError, match=r"ids.*numpy"):
        other(ids)
    with pytest.raises(TypeError, match="integer ids"):
        other(put(ids.astype(np.float64), lib))
    with pytest.raises(ValueError, match="outside"):
        other(put(ids + 3, lib))


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
def test_scatter_add_rows_matches_numpy(lib_name: str) -> None:
    lib = library(lib_name)
    rows = np.array([3, 0, 3, 3, 1])
    values = np.arange(10.0).reshape(5, 2)
    want = np.ones((4, 2))
    backend.scatter_add_rows(want, rows, values)
    target = put(np.ones((4, 2)), lib)
    backend.scatter_add_rows(target, put(rows, lib), put(values, lib))
    np.testing.assert_array_equal(get(target), want)


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
def test_batchnorm_running_statistics_and_evaluation_match_numpy(lib_name: str) -> None:
    rng = np.random.default_rng(4)
    layer = mg.BatchNorm2D(3)
    other, lib = moved(layer, lib_name)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * 2 + 1
        np.testing.assert_allclose(get(other(put(x, lib))), layer(x), rtol=1e-12, atol=1e-12)
    for a, b in zip(other.buffers(), layer.buffers(), strict=True):
        np.testing.assert_allclose(get(a.data), b.data, rtol=1e-12)
    x = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(get(other.eval()(put(x, lib))), layer.eval()(x),
                               rtol=1e-12, atol=1e-12)
    restored = mg.BatchNorm2D(3)
    restored.load_state_dict({k: get(v) for k, v in other.state_dict().items()})
    np.testing.assert_allclose(restored.eval()(x), layer(x), rtol=1e-12, atol=1e-12)
