"""BCEWithLogitsLoss and CrossEntropyLoss: value and gradient against the closed forms,
finite differences of the loss's own value, PyTorch, extreme logits and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import gradcheck

REDUCTIONS = ["mean", "sum"]


def strict_floats():
    """Overflow, invalid operations and division by zero raise instead of warning."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


def value_and_grad(loss, target):
    """``fn`` for gradcheck: the loss's value and its own backward."""
    return lambda pred: (loss(pred, target), [loss.backward()])


def assert_matches_torch(loss, torch_loss, pred, target):
    """Value and gradient of ``loss`` equal ``torch_loss`` (a torch.nn.functional loss)'s."""
    torch = pytest.importorskip("torch")
    t_pred = torch.tensor(pred, requires_grad=True)
    expected = torch_loss(t_pred, torch.tensor(target), reduction=loss.reduction)
    expected.backward()
    assert loss(pred, target) == pytest.approx(expected.item(), rel=1e-13)
    np.testing.assert_allclose(loss.backward(), t_pred.grad.numpy(), rtol=1e-12, atol=1e-300)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- BCEWithLogitsLoss -----------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_is_the_log_loss_of_the_sigmoid(reduction):
    rng = np.random.default_rng(0)
    z, t = rng.standard_normal((6, 3)) * 3, rng.integers(0, 2, (6, 3)).astype(float)
    loss = mg.BCEWithLogitsLoss(reduction=reduction)
    n = z.size if reduction == "mean" else 1
    s = sigmoid(z)
    expected = -np.sum(t * np.log(s) + (1 - t) * np.log(1 - s)) / n
    assert loss(z, t) == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), (s - t) / n, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradient_is_the_derivative_of_its_value(reduction):
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((5, 2)) * 4, rng.random((5, 2))  # soft targets too
    gradcheck(value_and_grad(mg.BCEWithLogitsLoss(reduction=reduction), t), z)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z = rng.standard_normal((8, 3)) * 5
    z[0] = [1e4, -1e4, 40.0]
    t = rng.random((8, 3))
    t[1] = [0.0, 1.0, 1.0]
    assert_matches_torch(mg.BCEWithLogitsLoss(reduction=reduction),
                         torch.nn.functional.binary_cross_entropy_with_logits, z, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_is_exact_at_extreme_logits(dtype):
    z = np.array([[1e4, 1e4, -1e4, -1e4]], dtype=dtype)
    t = np.array([[1.0, 0.0, 1.0, 0.0]])
    loss = mg.BCEWithLogitsLoss(reduction="sum")
    with strict_floats():
        value = loss(z, t)
        grad = loss.backward()
    # A confident right answer costs 0, a confident wrong one costs |z|.
    assert value == 2e4
    np.testing.assert_array_equal(grad, [[0, 1, -1, 0]])
    assert grad.dtype == dtype


def test_bce_keeps_tiny_values_and_gradients():
    loss = mg.BCEWithLogitsLoss(reduction="sum")
    # A confident right answer costs log(1 + e^−40) ≈ 4e-18, not a rounded 0.
    value = loss(np.array([40.0]), np.array([1.0]))
    assert value == pytest.approx(math.exp(-40), rel=1e-15, abs=0)
    loss(np.array([-700.0]), np.array([0.0]))
    assert loss.backward()[0] == pytest.approx(math.exp(-700), rel=1e-13, abs=0)  # σ(−700), not 0


# -- CrossEntropyLoss ------------------------------------------------------------------


def log_softmax(z):
    """The textbook formula, without the max shift: fine for moderate logits."""
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_indices_is_the_closed_form(reduction):
    rng = np.random.default_rng(3)
    z, y = rng.standard_normal((7, 4)) * 2, rng.integers(0, 4, 7)
    loss = mg.CrossEntropyLoss(reduction=reduction)
    n = 7 if reduction == "mean" else 1  # mean over the batch, not over N·C
    expected = -log_softmax(z)[np.arange(7), y].sum() / n
    assert loss(z, y) == pytest.approx(expected, rel=1e-13)
    softmax = np.exp(log_softmax(z))
    np.testing.assert_allclose(loss.backward(), (softmax - np.eye(4)[y]) / n, rtol=1e-12,
                               atol=1e-17)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities_is_the_closed_form(reduction):
    rng = np.random.default_rng(4)
    z, t = rng.standard_normal((5, 3)), rng.dirichlet(np.ones(3), 5)
    loss = mg.CrossEntropyLoss(reduction=reduction)
    n = 5 if reduction == "mean" else 1
    assert loss(z, t) == pytest.approx(-np.sum(t * log_softmax(z)) / n, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), (np.exp(log_softmax(z)) - t) / n, rtol=1e-12,
                               atol=1e-17)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "probabilities", "unnormalized"])
def test_cross_entropy_gradient_is_the_derivative_of_its_value(kind, reduction):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((6, 4)) * 3
    target = {
        "indices": rng.integers(0, 4, 6),
        "probabilities": rng.dirichlet(np.ones(4), 6),
        "unnormalized": rng.random((6, 4)) * 2,  # rows not summing to 1: gradient has Σt
    }[kind]
    gradcheck(value_and_grad(mg.CrossEntropyLoss(reduction=reduction), target), z)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["indices", "probabilities", "unnormalized"])
def test_cross_entropy_matches_torch(kind, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    z = rng.standard_normal((8, 5)) * 4
    z[0] = [1e4, -1e4, 0.0, 3.0, -2.0]
    target = {
        "indices": rng.integers(0, 5, 8),
        "probabilities": rng.dirichlet(np.ones(5), 8),
        "unnormalized": rng.random((8, 5)) * 2,
    }[kind]
    assert_matches_torch(mg.CrossEntropyLoss(reduction=reduction),
                         torch.nn.functional.cross_entropy, z, target)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_exact_at_extreme_logits(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    loss = mg.CrossEntropyLoss(reduction="sum")
    with strict_floats():
        # The target's probability underflows to 0, yet no log(0) is taken: the loss is
        # the logit gap, 2e4, plus log 3 for the uniform row.
        value = loss(z, np.array([1, 2]))
        grad = loss.backward()
    assert value == pytest.approx(2e4 + math.log(3), rel=1e-7)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3]], rtol=1e-6)
    with strict_floats():
        value = loss(z, np.array([[0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype))
    assert value == pytest.approx(2e4 + math.log(3), rel=1e-7)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64])
def test_cross_entropy_accepts_any_integer_index_dtype(dtype):
    z = np.array([[0.0, 1.0], [2.0, 0.0]])
    # −log softmax = log(1 + e^(−gap)) for two classes, where gap is the margin of the target.
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-2))) / 2
    assert mg.CrossEntropyLoss()(z, np.array([1, 0], dtype=dtype)) == pytest.approx(expected,
                                                                                   rel=1e-14)


def test_cross_entropy_keeps_float32():
    loss = mg.CrossEntropyLoss()
    loss(np.ones((3, 4), np.float32), np.array([0, 1, 2]))
    assert loss.backward().dtype == np.float32
    loss(np.ones((3, 4), np.float32), np.full((3, 4), 0.25))
    assert loss.backward().dtype == np.float32


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (np.array([0.0, 1.0, 2.0]), TypeError, "integer class indices, got dtype float64"),
        (np.array([True, False, True]), TypeError, "integer class indices, got dtype bool"),
        (np.array([0, 3, 1]), ValueError, r"class indices in \[0, 3\) for 3 classes "
                                           r"\(or ignore_index=-100\), got 3"),
        (np.array([0, -1, 1]), ValueError, r"class indices in \[0, 3\) .* got -1"),
        (np.array([0, 1]), ValueError, r"target of shape \(3,\) \(class indices\) or \(3, 3\) "
                                       r"\(probabilities\) .* got \(2,\)"),
        (np.zeros((3, 2)), ValueError, r"target .* or \(3, 3\) \(probabilities\) .* got \(3, 2\)"),
        (np.zeros((3, 1)), ValueError, r"target .* got \(3, 1\)"),
        (np.full((3, 3), "a"), TypeError, "a real target, got dtype <U1"),
    ],
)
def test_cross_entropy_bad_targets_raise_naming_the_loss(target, error, message):
    with pytest.raises(error, match=r"CrossEntropyLoss\(reduction='mean'\) expected " + message):
        mg.CrossEntropyLoss()(np.zeros((3, 3)), target)


def test_cross_entropy_needs_a_class_axis():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.* expected a prediction of shape "
                                         r"\(\.\.\., C\) \(classes last\), got a scalar"):
        mg.CrossEntropyLoss()(np.float64(1.0), np.zeros((), dtype=int))


def test_bce_shape_mismatch_names_the_loss_and_both_shapes():
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss\(reduction='sum'\) expected target "
                                         r"of shape \(4, 1\) \(the shape of pred\), got \(4,\)"):
        mg.BCEWithLogitsLoss(reduction="sum")(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(TypeError, match=r"BCEWithLogitsLoss.* expected a real prediction"):
        mg.BCEWithLogitsLoss()(np.array([["a"]]), np.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss.* got an empty prediction"):
        mg.BCEWithLogitsLoss()(np.zeros((0, 1)), np.zeros((0, 1)))


@pytest.mark.parametrize("make", [mg.BCEWithLogitsLoss, mg.CrossEntropyLoss])
def test_new_losses_refuse_backward_before_forward_and_bad_reductions(make):
    with pytest.raises(RuntimeError, match="before forward"):
        make().backward()
    with pytest.raises(ValueError, match=f"{make.__name__}: reduction must be 'none', 'mean' "
                                         "or 'sum', got 'avg'"):
        make(reduction="avg")


def test_mse_float32_value_is_accumulated_accurately():
    rng = np.random.default_rng(3)
    pred = rng.standard_normal(1_000_000).astype(np.float32).reshape(1000, 1000)
    target = np.zeros_like(pred)
    exact = float(np.sum(pred.astype(np.float64) ** 2)) / pred.size
    assert mg.MSELoss()(pred, target) == pytest.approx(exact, rel=1e-9)


def test_mse_float16_does_not_overflow_in_the_squares():
    value = mg.MSELoss()(np.array([[300.0]], np.float16), np.zeros((1, 1), np.float16))
    assert value == 90000.0
