"""The cheaper step of issue 23: what its shortcuts must not change.

`Sequential` keeps its release plan with its cached tree (rebuilt when the structure
changes, a layer's own ``release`` respected); ``as_batch`` returns a moved layer's own
arrays at once (and still converts or refuses the rest); on PyTorch, ReLU's backward
gate, CrossEntropyLoss's target-class subtraction and the class-index bounds take
PyTorch's own operations -- results as PyTorch's reference and NumPy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend


class _Counting(mg.Identity):
    """An Identity that counts its releases (a layer overriding `Module.release`)."""

    released = 0

    def release(self) -> None:
        self.released += 1
        super().release()


class _Holder(mg.Identity):
    """A layer whose sub-layers sit in a list, mutated in place after the first step."""

    def __init__(self) -> None:
        self.parts: list[mg.Layer[Any]] = [mg.Identity()]


def test_sequential_calls_a_layers_own_release_once_per_backward() -> None:
    counting = _Counting()
    model = mg.Sequential(mg.Dense(2, 2, rng=0), counting)
    for step in range(1, 3):
        model(np.ones((3, 2)))
        model.backward(np.ones((3, 2)))
        assert counting.released == step
    model(np.ones((3, 2)))
    model.backward_params(np.ones((3, 2)))
    assert counting.released == 3


def test_the_release_plan_follows_a_list_changed_in_place() -> None:
    holder = _Holder()
    model = mg.Sequential(mg.Dense(2, 2, rng=0), holder)
    model(np.ones((3, 2)))
    model.backward(np.ones((3, 2)))
    late = mg.Identity()
    late(np.ones((3, 2)))  # its cache set, as a forward through the holder would
    holder.parts.append(late)  # no attribute assigned: only Tree.valid can see it
    model(np.ones((3, 2)))
    model.backward(np.ones((3, 2)))
    assert late.cache is None  # released with its new parent
    with pytest.raises(RuntimeError, match="second time"):
        late.backward(np.ones((3, 2)))


def test_released_layers_raise_on_a_second_backward_and_retain_graph_keeps_them() -> None:
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 2, rng=0), mg.Sigmoid())
    model(np.ones((4, 2)))
    model.backward_params(np.ones((4, 2)))
    for layer in model:
        assert layer.cache is None
    with pytest.raises(RuntimeError, match="second time"):
        model.backward(np.ones((4, 2)))
    model(np.ones((4, 2)))
    with mg.retain_graph():
        model.backward_params(np.ones((4, 2)))
    assert all(layer.cache is not None for layer in model)


def test_torch_relu_gate_is_pytorchs_relu_backward() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((8, 5)).astype(np.float32))
    x[0, :2] = 0.0
    g = torch.from_numpy(rng.standard_normal((8, 5)).astype(np.float32))
    g[0, 0], g[0, 1], g[1, 0] = float("inf"), float("nan"), -float("inf")  # 0 ·inf, NaN
    relu = mg.ReLU()
    y = relu(x)
    assert torch.equal(y, torch.relu(x))
    ours = relu.backward(g)
    leaf = x.clone().requires_grad_(True)
    torch.relu(leaf).backward(g)
    assert leaf.grad is not None
    assert torch.equal(torch.isnan(ours), torch.isnan(leaf.grad))
    assert torch.equal(torch.nan_to_num(ours), torch.nan_to_num(leaf.grad))


def test_numpy_relu_gradient_is_unchanged() -> None:
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    relu = mg.ReLU()
    y = relu(x)
    np.testing.assert_array_equal(relu.backward(g), g * (y > 0))
    g[0, 0] = np.inf
    relu(x)
    expected = np.where(y > 0, g, 0.0)
    np.testing.assert_array_equal(relu.backward(g), expected)


def test_torch_cross_entropy_matches_numpy_and_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z = rng.standard_normal((7, 5)).astype(np.float32)
    t = rng.integers(0, 5, size=7)
    loss = mg.CrossEntropyLoss()
    want_value, want_grad = loss(z, t), loss.backward()
    got_value = loss(torch.from_numpy(z), torch.from_numpy(t))
    got_grad = loss.backward()
    np.testing.assert_allclose(got_value, want_value, rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(got_grad), want_grad, rtol=1e-6, atol=1e-7)
    leaf = torch.from_numpy(z).requires_grad_(True)
    torch.nn.functional.cross_entropy(leaf, torch.from_numpy(t)).backward()
    assert leaf.grad is not None
    np.testing.assert_allclose(backend.to_numpy(got_grad), leaf.grad.numpy(), rtol=1e-5,
                               atol=1e-7)
    with pytest.raises(ValueError, match=r"class indices in \[0, 5\)"):
        loss(torch.from_numpy(z), torch.from_numpy(np.full(7, 5)))


def test_a_moved_layer_still_converts_and_refuses_inputs() -> None:
    torch = pytest.importorskip("torch")
    dense = mg.Dense(3, 2, rng=0, dtype=np.float32).to(torch)
    x32 = torch.ones((4, 3), dtype=torch.float32)
    assert dense(x32).dtype == torch.float32
    assert dense(torch.ones((4, 3), dtype=torch.float64)).dtype == torch.float32  # cast
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, \.\.\., 3\)"):
        dense(torch.ones((4, 2), dtype=torch.float32))
    with pytest.raises(ValueError, match="empty input"):
        dense(torch.ones((0, 3), dtype=torch.float32))
    with pytest.raises(ValueError, match="expected input of shape"):
        dense(torch.ones(3, dtype=torch.float32))
    with pytest.raises(TypeError, match="move the input there"):
        dense(np.ones((4, 3), dtype=np.float32))
