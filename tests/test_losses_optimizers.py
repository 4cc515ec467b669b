"""MSELoss and SGD against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing.layer_contract import gradcheck


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_value_and_gradient_closed_form(reduction):
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss = mg.MSELoss(reduction=reduction)
    value = loss(pred, target)
    n = pred.size if reduction == "mean" else 1
    assert isinstance(value, float)
    assert value == pytest.approx(np.sum((pred - target) ** 2) / n, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), 2 * (pred - target) / n, rtol=1e-14)


def test_mse_gradient_is_the_derivative_of_its_value():
    rng = np.random.default_rng(1)
    pred, target = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    loss = mg.MSELoss()

    def value_and_grad(p):
        return loss(p, target), [loss.backward()]

    gradcheck(value_and_grad, pred)


def test_mse_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    t_pred = torch.tensor(pred, requires_grad=True)
    t_loss = torch.nn.functional.mse_loss(t_pred, torch.tensor(target))
    t_loss.backward()
    loss = mg.MSELoss()
    assert loss(pred, target) == pytest.approx(t_loss.item(), rel=1e-14)
    np.testing.assert_allclose(loss.backward(), t_pred.grad.numpy(), rtol=1e-14)


def test_mse_keeps_float32():
    loss = mg.MSELoss()
    loss(np.ones((2, 2), np.float32), np.zeros((2, 2)))
    assert loss.backward().dtype == np.float32


def test_sgd_step_is_the_formula_and_in_place():
    rng = np.random.default_rng(3)
    param = mg.Parameter(rng.standard_normal((3, 2)), name="w")
    param.grad[...] = rng.standard_normal((3, 2))
    before, data_ref = param.data.copy(), param.data
    opt = mg.SGD([param], lr=0.3)
    opt.step()
    assert param.data is data_ref
    np.testing.assert_allclose(param.data, before - 0.3 * param.grad, rtol=1e-15)
    grad_ref = param.grad
    opt.zero_grad()
    assert param.grad is grad_ref and not param.grad.any()


def test_one_step_changes_every_parameter():
    rng = np.random.default_rng(4)
    model = mg.Sequential(mg.Bias(), mg.Dense(3, 4, rng=rng), mg.Sigmoid(), mg.Bias(),
                          mg.Dense(5, 2, rng=rng))
    before = [p.data.copy() for p in model.parameters()]
    loss = mg.MSELoss()
    opt = mg.SGD(model.parameters(), lr=0.1)
    loss(model(rng.standard_normal((8, 2))), rng.standard_normal((8, 2)))
    opt.zero_grad()
    model.backward(loss.backward())
    opt.step()
    for b, p in zip(before, model.parameters()):
        assert np.all(p.data != b), p.name


def test_training_step_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    model = mg.Sequential(mg.Bias(), mg.Dense(4, 3, rng=rng), mg.Sigmoid(), mg.Bias(),
                          mg.Dense(4, 1, rng=rng), mg.Identity())
    w1 = torch.tensor(model[1].weight.data.copy(), requires_grad=True)
    w2 = torch.tensor(model[4].weight.data.copy(), requires_grad=True)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    loss, opt = mg.MSELoss(), mg.SGD(model.parameters(), lr=0.05)
    t_opt = torch.optim.SGD([w1, w2], lr=0.05)
    tx, ty = torch.tensor(x), torch.tensor(y)
    ones = torch.ones(6, 1, dtype=torch.float64)
    for _ in range(5):
        value = loss(model(x), y)
        opt.zero_grad()
        model.backward(loss.backward())
        opt.step()
        h = torch.sigmoid(torch.cat([ones, tx], 1) @ w1)
        t_loss = torch.nn.functional.mse_loss(torch.cat([ones, h], 1) @ w2, ty)
        t_opt.zero_grad()
        t_loss.backward()
        t_opt.step()
        assert value == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(model[1].weight.data, w1.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(model[4].weight.data, w2.detach().numpy(), rtol=1e-12)
