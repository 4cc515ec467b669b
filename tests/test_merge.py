"""Add and Concat: closed forms, gradients, dtypes and clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.core import check_arity

rng = np.random.default_rng(0)
A, B, C = (rng.standard_normal((4, 3)) for _ in range(3))


def test_add_is_the_elementwise_sum_and_passes_the_gradient_to_each_input():
    add = mg.Add()
    np.testing.assert_array_equal(add(A, B, C), A + B + C)
    g = rng.standard_normal((4, 3))
    grads = add.backward(g)
    assert len(grads) == 3
    for grad in grads:
        np.testing.assert_array_equal(grad, g)


def test_add_does_not_broadcast_and_names_every_shape():
    with pytest.raises(ValueError, match=re.escape(
        "Add() expected inputs of one shape, got (4, 3), (4, 1), (4, 3)"
    )):
        mg.Add()(A, A[:, :1], B)


def test_merge_layers_need_two_inputs():
    for layer in (mg.Add(), mg.Concat()):
        message = f"{layer!r} takes at least 2 inputs, got 1"
        with pytest.raises(ValueError, match=re.escape(message)):
            layer(A)


def test_arity_messages_for_bounded_merge_layers():
    class Pair(mg.Add):
        max_inputs = 2

    class Few(mg.Add):
        max_inputs = 3

    with pytest.raises(ValueError, match="takes exactly 2 inputs, got 3"):
        check_arity(Pair(), 3)
    with pytest.raises(ValueError, match="takes 2 to 3 inputs, got 4"):
        check_arity(Few(), 4)
    check_arity(Few(), 3)


def test_concat_joins_features_and_splits_the_gradient_back():
    concat = mg.Concat()
    x2 = A[:, :2]
    np.testing.assert_array_equal(concat(A, x2), np.concatenate([A, x2], axis=1))
    g = rng.standard_normal((4, 5))
    grad_a, grad_b = concat.backward(g)
    np.testing.assert_array_equal(grad_a, g[:, :3])
    np.testing.assert_array_equal(grad_b, g[:, 3:])
    assert np.shares_memory(grad_a, g) and np.shares_memory(grad_b, g)  # views, no copies


def test_concat_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=re.escape(
        "Concat(axis=-1) expected inputs that agree on every axis but -1, got (4, 3), (2, 3)"
    )):
        mg.Concat()(A, A[:2])
    for bad in (1.0, True, "1"):
        with pytest.raises(ValueError, match="Concat: axis must be"):
            mg.Concat(axis=bad)
    for axis in (2, -3):
        with pytest.raises(ValueError, match=re.escape(
            f"Concat(axis={axis}): axis {axis} is outside inputs of shapes (4, 3), (4, 3)"
        )):
            mg.Concat(axis=axis)(A, A)
    with pytest.raises(ValueError, match="agree on every axis but -1"):
        mg.Concat()(A, A[:, :, None])


@pytest.mark.parametrize("layer", [mg.Add(), mg.Concat()], ids=repr)
def test_merge_dtypes_follow_numpy_promotion(layer):
    f32, f64 = A.astype(np.float32), B
    assert layer(f32, f32).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.backward(np.ones_like(layer(f32, f32))))
    assert layer(f32, f64).dtype == np.float64
    assert layer(np.ones((4, 3), dtype=int), np.ones((4, 3), dtype=bool)).dtype == np.float64


@pytest.mark.parametrize("layer", [mg.Add(), mg.Concat()], ids=repr)
def test_merge_backward_validates_the_gradient(layer):
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\)"):
        layer.backward(np.ones((4, 3)))
    layer(A, B)
    with pytest.raises(ValueError, match=re.escape(f"{layer!r}.backward expected a gradient")):
        layer.backward(np.ones((4, 2)))


def test_merge_layers_against_torch():
    torch = pytest.importorskip("torch")
    ta, tb, tc = (torch.tensor(x, requires_grad=True) for x in (A, B, C))
    out = torch.cat([ta + tb + tc, tb], dim=1)
    weights = torch.tensor(rng.standard_normal((4, 6)))
    (out * weights).sum().backward()

    add, concat = mg.Add(), mg.Concat()
    ours = concat(add(A, B, C), B)
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-15)
    grad_sum, grad_b2 = concat.backward(weights.numpy())
    grad_a, grad_b1, grad_c = add.backward(grad_sum)
    np.testing.assert_allclose(grad_a, ta.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(grad_b1 + grad_b2, tb.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(grad_c, tc.grad.numpy(), rtol=1e-15)
