"""Embedding: torch lookup and gradients, repeated ids summed, padding, bad ids, and the
contract check_layer cannot run on integer inputs (done here by hand)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import scatter_add_rows
from minigrad.testing.layer_contract import gradcheck


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    m = mg.Embedding(6, 4, padding_idx=padding_idx, rng=0)
    t = torch.nn.Embedding(6, 4, padding_idx=padding_idx).double()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.data))
    ids = rng.integers(0, 6, (3, 5))
    ids[0, :3] = 5  # repeats, and the padding row
    g = rng.standard_normal((3, 5, 4))
    out = t(torch.tensor(ids))
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(m(ids), out.detach().numpy(), rtol=1e-12)
    m.backward(g)
    np.testing.assert_allclose(m.weight.grad, t.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    if padding_idx is not None:
        assert not m.weight.data[padding_idx].any() and not m.weight.grad[padding_idx].any()


def test_scatter_add_rows_sums_repeats() -> None:
    rows = np.array([3, 0, 3, 3, 1])
    values = np.arange(10.0).reshape(5, 2)
    target = np.ones((4, 2))
    scatter_add_rows(target, rows, values)
    expected = np.ones((4, 2))
    np.add.at(expected, rows, values)  # the slow reference
    np.testing.assert_array_equal(target, expected)


def test_embedding_contract_by_hand() -> None:
    """What check_layer checks, for integer ids: gradient vs finite differences,
    accumulation, stash/unstash, float32, backward before forward."""
    rng = np.random.default_rng(1)
    layer = mg.Embedding(5, 3, rng=0)
    ids = rng.integers(0, 5, (4, 2))
    upstream = rng.standard_normal((4, 2, 3))
    with pytest.raises(RuntimeError, match="before forward"):
        copy.deepcopy(layer).backward(upstream)

    def value_and_grad(weight):
        layer.zero_grad()
        value = float(np.sum(layer(ids) * upstream))
        grad_in = layer.backward(upstream)
        assert grad_in.shape == ids.shape and not grad_in.any()
        return value, [layer.weight.grad]

    gradcheck(value_and_grad, layer.weight.data)
    once = layer.weight.grad.copy()
    layer(ids)
    layer.backward_params(upstream)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    layer(ids)
    stashed = layer.stash()
    layer(rng.integers(0, 5, (4, 2)))
    layer.unstash(stashed)
    layer.backward(upstream)
    np.testing.assert_allclose(layer.weight.grad, once)
    small = mg.Embedding(5, 3, rng=0, dtype=np.float32)
    assert small(ids).dtype == np.float32


def test_embedding_refuses_bad_ids() -> None:
    m = mg.Embedding(4, 2, rng=0)
    with pytest.raises(TypeError, match=r"Embedding\(4, 2\) expected integer ids, got dtype f"):
        m(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="got dtype bool"):
        m(np.array([True]))
    with pytest.raises(ValueError, match=r"got id 4, outside \[0, 4\)"):
        m(np.array([[0, 4]]))
    with pytest.raises(ValueError, match=r"got id -1, outside \[0, 4\)"):
        m(np.array([-1]))
    with pytest.raises(ValueError, match="padding_idx"):
        mg.Embedding(4, 2, padding_idx=4)


def test_embedding_in_a_sequential_with_integer_input() -> None:
    model = mg.Sequential(mg.Embedding(7, 3, rng=0), mg.LSTM(3, 4, return_sequences=False,
                                                             rng=1))
    ids = np.array([[1, 2, 3], [4, 5, 6]])
    assert model(ids).shape == (2, 4)
    model.backward(np.ones((2, 4)))
    assert model[0].weight.grad[1:].any() and not model[0].weight.grad[0].any()
