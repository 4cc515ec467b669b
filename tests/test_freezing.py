"""Counting parameters (`Module.num_parameters`) and freezing them
(`Parameter.requires_grad`, `Module.requires_grad_`): no gradient, no update, the input
gradient unchanged, and the counts in `mg.summary`."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import LAYERS, layer_case, layer_input

import minigrad as mg


def mlp(seed: int = 0) -> mg.Sequential:
    return mg.Sequential(mg.Dense(4, 8, bias=True, rng=seed), mg.Tanh(),
                         mg.Dense(8, 1, bias=True, rng=seed + 1))


def data(rows: int = 32) -> tuple[mg.Array, mg.Array]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 4))
    return x, np.sin(x.sum(axis=1, keepdims=True))


# -- counting ---------------------------------------------------------------------------
def test_num_parameters_counts_scalars_and_a_shared_parameter_once():
    model = mlp()
    assert model.num_parameters() == (4 * 8 + 8) + (8 * 1 + 1) == 49
    shared = mg.Dense(3, 3, rng=0)
    assert mg.Sequential(shared, mg.Tanh(), shared).num_parameters() == 9
    assert mg.Tanh().num_parameters() == 0


def test_num_parameters_leaves_out_buffers_and_frozen_ones_when_asked():
    model = mg.Sequential(mg.Dense(4, 8, rng=0), mg.BatchNorm1D(8), mg.Dense(8, 2, rng=0))
    total = 32 + 16 + 16  # the BatchNorm's running mean and variance are buffers
    assert model.num_parameters() == model.num_parameters(trainable_only=True) == total
    model[0].requires_grad_(False)
    assert model.num_parameters() == total
    assert model.num_parameters(trainable_only=True) == total - 32


# -- the flag ---------------------------------------------------------------------------
def test_requires_grad_defaults_to_true_and_requires_grad_sets_the_whole_subtree():
    model = mlp()
    assert all(p.requires_grad for p in model.parameters())
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model[2].requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    assert "requires_grad=False" in repr(model[0].weight)
    assert "requires_grad" not in repr(model[2].weight)


def test_requires_grad_refuses_a_non_bool():
    with pytest.raises(TypeError, match="requires_grad must be a bool"):
        mlp().requires_grad_(0)  # type: ignore[arg-type]


# -- backward ---------------------------------------------------------------------------
CASES = [name for name in LAYERS if layer_case(name, np.float64)[0].parameters()]


@pytest.mark.parametrize("name", CASES)
def test_a_frozen_layer_accumulates_nothing_and_passes_the_same_input_gradient(name):
    x = layer_input(name, np.float64)
    trained, _ = layer_case(name, np.float64)
    frozen, _ = layer_case(name, np.float64)
    frozen.requires_grad_(False)
    grad_out = np.random.default_rng(3).standard_normal(trained(x).shape)
    frozen(x)
    expected, got = trained.backward(grad_out), frozen.backward(grad_out)
    np.testing.assert_array_equal(got, expected)
    for (key, param), (_, reference) in zip(frozen.named_parameters(),
                                            trained.named_parameters()):
        assert not np.any(param.grad), key
        assert np.any(reference.grad), key  # the test can fail: trained ones got some


def test_freezing_one_parameter_of_a_layer_leaves_the_other_trained():
    x, _ = data()
    layer, reference = mg.Dense(4, 3, bias=True, rng=0), mg.Dense(4, 3, bias=True, rng=0)
    layer.bias.requires_grad = False
    g = np.ones((len(x), 3))
    for dense in (layer, reference):
        dense(x)
        dense.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, reference.weight.grad)
    assert not np.any(layer.bias.grad)


def test_the_input_gradient_matches_torch_with_the_layer_frozen():
    torch = pytest.importorskip("torch")
    from minigrad.export import to_torch

    model = mlp()
    model[0].requires_grad_(False)
    x, _ = data(8)
    module = to_torch(model)
    module[0].requires_grad_(False)
    tx = torch.from_numpy(x).requires_grad_(True)
    module(tx).sum().backward()
    model(x)
    dx = model.backward(np.ones((8, 1)))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=0, atol=1e-12)
    assert module[0].weight.grad is None and not np.any(model[0].weight.grad)
    np.testing.assert_allclose(model[2].weight.grad, module[2].weight.grad.numpy().T,
                               rtol=0, atol=1e-12)


# -- optimizers -------------------------------------------------------------------------
OPTIMIZERS = {
    "SGD decay": lambda ps: mg.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    "Adam decay": lambda ps: mg.Adam(ps, lr=0.01, weight_decay=0.1),
    "AdamW": lambda ps: mg.AdamW(ps, lr=0.01, weight_decay=0.1),
    "RMSprop": lambda ps: mg.RMSprop(ps, lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_frozen_layer_is_unchanged_by_fit_and_its_grad_stays_zero(name):
    model = mlp()
    model[0].requires_grad_(False)
    before = model.state_dict()
    x, y = data()
    mg.fit(model, mg.MSELoss(), OPTIMIZERS[name](model.parameters()), x, y,
           epochs=3, batch_size=8, progress=False)
    after = model.state_dict()
    for key in ("0.weight", "0.bias"):
        np.testing.assert_array_equal(after[key], before[key])
    assert not np.any(model[0].weight.grad) and not np.any(model[0].bias.grad)
    assert not np.array_equal(after["2.weight"], before["2.weight"])  # the rest trained


def test_an_unfrozen_layer_trains_again_with_the_same_optimizer():
    model = mlp()
    model[0].requires_grad_(False)
    optimizer = mg.Adam(model.parameters(), lr=0.01)
    x, y = data()
    mg.fit(model, mg.MSELoss(), optimizer, x, y, epochs=1, batch_size=8, progress=False)
    frozen = model.state_dict()["0.weight"]
    model.requires_grad_(True)
    mg.fit(model, mg.MSELoss(), optimizer, x, y, epochs=1, batch_size=8, progress=False)
    assert not np.array_equal(model.state_dict()["0.weight"], frozen)


def test_lbfgs_leaves_a_frozen_layer_alone():
    model = mlp()
    model[0].requires_grad_(False)
    before = model.state_dict()
    x, y = data()
    optimizer = mg.LBFGS(model.parameters(), max_iter=5)
    loss = mg.MSELoss()

    def closure() -> float:
        optimizer.zero_grad()
        value = loss(model(x), y)
        model.backward(loss.backward())
        return value

    optimizer.step(closure)
    after = model.state_dict()
    np.testing.assert_array_equal(after["0.weight"], before["0.weight"])
    assert not np.array_equal(after["2.weight"], before["2.weight"])


# -- state and summary ------------------------------------------------------------------
def test_state_dict_keeps_frozen_parameters():
    model = mlp().requires_grad_(False)
    other = mlp(seed=5)
    other.load_state_dict(model.state_dict())
    assert set(model.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key], value)


def test_summary_counts_frozen_parameters_as_non_trainable(capsys):
    model = mlp()
    model[0].requires_grad_(False)
    text = mg.summary(model, (None, 4))
    assert "Total params: 49 " in text
    assert "Trainable params: 9\n" in text
    assert text.endswith("Non-trainable params: 40") or "Non-trainable params: 40\n" in text
