"""Embedding's max_norm, norm_type and scale_grad_by_freq, as PyTorch's: the table
renormalized in place by forward exactly as ``embedding_renorm_`` does, the looked-up
rows, the frequency-scaled gradient, on every array library, and bad arguments."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, get, library, put

IDS = np.array([[0, 3, 3, 1], [4, 1, 0, 9], [3, 3, 3, 2]])  # repeats; 5-8 never looked up


def pair(num=10, dim=4, seed=0, **options):
    """A minigrad Embedding with a random table, and PyTorch's holding the same."""
    torch = pytest.importorskip("torch")
    layer = mg.Embedding(num, dim, rng=0, **options)
    layer.weight.data[...] = np.random.default_rng(seed).standard_normal((num, dim))
    twin = torch.nn.Embedding(num, dim, **options).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.data))
    return layer, twin


CONFIGS = [
    {"max_norm": 1.5},
    {"max_norm": 1.5, "norm_type": 1.0},
    {"max_norm": 0.7, "norm_type": 3.5},
    {"max_norm": 1.0, "norm_type": float("inf")},
    {"max_norm": 1.2, "padding_idx": 1},
    {"scale_grad_by_freq": True},
    {"scale_grad_by_freq": True, "padding_idx": 3},
    {"max_norm": 1.5, "scale_grad_by_freq": True, "padding_idx": 0},
]


@pytest.mark.parametrize("options", CONFIGS, ids=repr)
def test_forward_table_and_gradient_match_torch(options):
    torch = pytest.importorskip("torch")
    layer, twin = pair(**options)
    before = layer.weight.data.copy()
    rng = np.random.default_rng(1)
    for step in range(2):  # the second forward sees the renormalized table
        g = rng.standard_normal((*IDS.shape, 4))
        layer.zero_grad()
        twin.zero_grad()
        y = layer(IDS)
        ty = twin(torch.from_numpy(IDS))
        ty.backward(torch.from_numpy(g))
        layer.backward(g)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(layer.weight.data, twin.weight.detach().numpy(),
                                   rtol=1e-14, atol=1e-15, err_msg=f"step {step}")
        np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(),
                                   rtol=1e-13, atol=1e-15)
    if "max_norm" in options:  # renormalized: the rows of 5-8, never looked up, are not
        changed = ~np.all(layer.weight.data == before, axis=1)
        assert changed.any() and not changed[5:9].any()
        norms = np.linalg.norm(layer.weight.data[np.unique(IDS)],
                               ord=options.get("norm_type", 2.0), axis=1)
        assert np.all(norms <= options["max_norm"])


def test_renormalization_is_in_place_even_in_evaluation_mode():
    layer = mg.Embedding(4, 3, max_norm=1.0, rng=0)
    table = layer.weight.data
    layer.weight.data[...] = [[3.0, 4.0, 0.0], [0.3, 0.4, 0.0], [6.0, 8.0, 0.0], [0.0, 0.0, 2.0]]
    layer.eval()
    y = layer(np.array([[0, 1, 0]]))
    assert layer.weight.data is table  # the same array: optimizers hold it
    scale = 1.0 / (5.0 + 1e-7)  # PyTorch's max_norm / (norm + 1e-7)
    np.testing.assert_array_equal(table[0], np.array([3.0, 4.0, 0.0]) * scale)
    np.testing.assert_array_equal(table[1], [0.3, 0.4, 0.0])  # under max_norm: untouched
    np.testing.assert_array_equal(table[2:], [[6.0, 8.0, 0.0], [0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(y[0, 0], table[0])


def test_frequency_scaling_divides_each_rows_gradient_by_its_count():
    layer = mg.Embedding(5, 2, scale_grad_by_freq=True, rng=0)
    ids = np.array([[1, 1, 1, 2], [4, 1, 2, 0]])  # counts: 1 → 4, 2 → 2, 4 → 1, 0 → 1
    g = np.arange(16.0).reshape(2, 4, 2)
    layer(ids)
    layer.backward(g)
    plain = mg.Embedding(5, 2, rng=0)
    plain(ids)
    plain.backward(g)
    np.testing.assert_allclose(layer.weight.grad, plain.weight.grad / [[1], [4], [2], [1], [1]])


def test_frozen_table_is_still_renormalized_and_gets_no_gradient():
    layer = mg.Embedding(3, 2, max_norm=0.5, scale_grad_by_freq=True, rng=0)
    layer.requires_grad_(False)
    layer(np.array([[0, 1, 2]]))
    assert np.all(np.linalg.norm(layer.weight.data, axis=1) <= 0.5)
    layer.backward(np.ones((1, 3, 2)))
    assert not layer.weight.grad.any()


@pytest.mark.parametrize("lib_name", [name for name in LIBRARIES if name != "numpy"])
@pytest.mark.parametrize("options", CONFIGS[3:], ids=repr)
def test_every_library_computes_as_numpy(options, lib_name):
    lib = library(lib_name)
    layer = mg.Embedding(10, 4, rng=0, **options)
    layer.weight.data[...] = np.random.default_rng(0).standard_normal((10, 4))
    moved = copy.deepcopy(layer).to(lib)
    g = np.random.default_rng(2).standard_normal((*IDS.shape, 4))
    for model, place in ((layer, np), (moved, lib)):
        model(put(IDS, place))
        model.backward(put(g, place))
    np.testing.assert_allclose(get(moved.weight.data), layer.weight.data, rtol=1e-13)
    np.testing.assert_allclose(get(moved.weight.grad), layer.weight.grad, rtol=1e-13)
    np.testing.assert_allclose(get(moved(put(IDS, lib))), layer(IDS), rtol=1e-13)


def test_float32_tables_renormalize_in_float32():
    layer = mg.Embedding(4, 3, max_norm=0.1, dtype=np.float32, rng=0)
    y = layer(np.array([[0, 1, 2, 3]]))
    assert y.dtype == layer.weight.dtype == np.float32
    assert np.all(np.linalg.norm(layer.weight.data, axis=1) <= 0.1)


BAD_ARGUMENTS = [
    ({"max_norm": 0.0}, "Embedding: max_norm must be a finite number > 0, got 0.0"),
    ({"max_norm": -1.0}, "Embedding: max_norm must be a finite number > 0"),
    ({"max_norm": float("inf")}, "Embedding: max_norm must be a finite number > 0"),
    ({"max_norm": "1"}, "Embedding: max_norm must be a finite number > 0"),
    ({"norm_type": 0.0}, "Embedding: norm_type must be a number > 0 (inf: the max-norm), "
                         "got 0.0"),
    ({"norm_type": float("nan")}, "Embedding: norm_type must be a number > 0"),
    ({"scale_grad_by_freq": 1}, "Embedding: scale_grad_by_freq must be a bool, got 1"),
]


@pytest.mark.parametrize(("options", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_at_construction(options, message):
    expected = TypeError if "must be a bool" in message else ValueError  # Python's rule
    with pytest.raises(expected, match=re.escape(message)):
        mg.Embedding(5, 2, **options)


def test_repr_shows_the_options():
    assert repr(mg.Embedding(5, 2, max_norm=1.0, rng=0)) == "Embedding(5, 2, max_norm=1.0)"
    assert repr(mg.Embedding(5, 2, 0, 2.0, 1.0, True, rng=0)) == (
        "Embedding(5, 2, padding_idx=0, max_norm=2.0, norm_type=1.0, scale_grad_by_freq=True)")
