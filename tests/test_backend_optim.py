"""Optimizers, schedulers, clipping and checkpoints on every array library.

Each optimizer trains the same small model from the same weights on the same data, moved
to each library, and must reach NumPy's weights (float64, 1e-10); NumPy's are checked
against ``torch.optim`` in test_optim_torch.py. The loss gradient is written by hand
(MSE: ``2 (pred − y) / pred.size``) so that only the model and the optimizer run on the
library under test.
"""

from __future__ import annotations

import inspect
import math
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, get, library, namespace_name, put

FOREIGN = [name for name in LIBRARIES if name != "numpy"]
STEPS = 7

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))

MakeOptimizer = Callable[[list[mg.Parameter]], mg.Optimizer]


def model() -> mg.Sequential:
    return mg.Sequential(mg.Dense(3, 4, bias=True, rng=0), mg.Tanh(), mg.Dense(4, 2, rng=1))


def groups(params: list[mg.Parameter], **second: Any) -> list[dict[str, Any]]:
    """Two parameter groups: the matrices, then the rest with ``second``'s overrides."""
    return [{"params": [p for p in params if p.data.ndim > 1]},
            {"params": [p for p in params if p.data.ndim <= 1], **second}]


OPTIMIZERS: dict[str, MakeOptimizer] = {
    "SGD": lambda p: mg.SGD(p, lr=0.1),
    "SGD momentum": lambda p: mg.SGD(p, lr=0.1, momentum=0.9),
    "SGD nesterov weight_decay": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                  weight_decay=0.1),
    "SGD groups": lambda p: mg.SGD(groups(p, lr=0.3, weight_decay=0.0), lr=0.1,
                                   momentum=0.5, weight_decay=0.01),
    "Adam": lambda p: mg.Adam(p, lr=0.05),
    "Adam amsgrad weight_decay": lambda p: mg.Adam(p, lr=0.05, amsgrad=True, weight_decay=0.1),
    "Adam groups": lambda p: mg.Adam(groups(p, betas=(0.8, 0.9), amsgrad=True), lr=0.05),
    "AdamW": lambda p: mg.AdamW(p, lr=0.05, weight_decay=0.1),
    "AdamW amsgrad": lambda p: mg.AdamW(p, lr=0.05, amsgrad=True),
    "RMSprop": lambda p: mg.RMSprop(p, lr=0.01),
    "RMSprop centered momentum": lambda p: mg.RMSprop(p, lr=0.01, centered=True,
                                                      momentum=0.9, weight_decay=0.1),
    "Adagrad": lambda p: mg.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                    initial_accumulator_value=0.1),
    "SGD dampening maximize": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, dampening=0.3,
                                               weight_decay=0.1, maximize=True),
    "Adam decoupled maximize": lambda p: mg.Adam(p, lr=0.05, weight_decay=0.1, maximize=True,
                                                 decoupled_weight_decay=True),
    "NAdam": lambda p: mg.NAdam(p, lr=0.05, weight_decay=0.1),
    "NAdam decoupled groups": lambda p: mg.NAdam(groups(p, lr=0.02), lr=0.05, weight_decay=0.1,
                                                 decoupled_weight_decay=True),
    "RAdam": lambda p: mg.RAdam(p, lr=0.05, weight_decay=0.1, maximize=True),
    "Adamax": lambda p: mg.Adamax(p, lr=0.05, weight_decay=0.1),
    "Adadelta": lambda p: mg.Adadelta(p, weight_decay=0.1, maximize=True),
    "Rprop": lambda p: mg.Rprop(p, lr=0.05, step_sizes=(1e-3, 0.1)),
    "ASGD": lambda p: mg.ASGD(p, lr=0.1, lambd=0.1, t0=2, weight_decay=0.1),
}


def mse_gradient(pred: Any, target: Any) -> Any:
    """d/dpred of the mean squared error ``mean((pred − target)²)``."""
    return (pred - target) * (2.0 / math.prod(pred.shape))


def train(lib: types.ModuleType, make: MakeOptimizer, steps: int = STEPS,
          net: mg.Sequential | None = None) -> tuple[mg.Sequential, mg.Optimizer]:
    """``steps`` full-batch steps of ``make``'s optimizer on ``model()`` moved to ``lib``."""
    net = (net or model()).to(lib)
    optimizer = make(net.parameters())
    fit_steps(net, optimizer, lib, steps)
    return net, optimizer


def fit_steps(net: mg.Sequential, optimizer: mg.Optimizer, lib: types.ModuleType,
              steps: int, after: Callable[[], None] = lambda: None) -> None:
    x, y = put(X, lib), put(Y, lib)
    for _ in range(steps):
        optimizer.zero_grad()
        pred = net(x)
        net.backward(mse_gradient(pred, y))
        optimizer.step()
        after()


def weights(net: mg.Sequential) -> list[np.ndarray]:
    return [get(p.data) for p in net.parameters()]


def assert_same_weights(got: mg.Sequential, expected: mg.Sequential) -> None:
    for a, b in zip(weights(got), weights(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_issue_check_a_model_moved_to_torch_and_array_api_strict_trains_five_adam_steps_to_the_numpy_weights(  # noqa: E501
    lib_name: str,
) -> None:
    lib = library(lib_name)
    expected, _ = train(np, lambda p: mg.Adam(p, lr=0.05), steps=5)
    got, optimizer = train(lib, lambda p: mg.Adam(p, lr=0.05), steps=5)
    assert all(namespace_name(p.data) == lib_name for p in got.parameters())
    assert all(namespace_name(a) == lib_name for s in optimizer.state.values() for a in s.values())
    assert_same_weights(got, expected)
    assert not np.allclose(weights(got)[0], weights(model())[0])  # it did train


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("lib_name", FOREIGN)
def test_every_optimizer_reaches_numpys_weights(lib_name: str, name: str) -> None:
    lib = library(lib_name)
    expected, reference = train(np, OPTIMIZERS[name])
    got, optimizer = train(lib, OPTIMIZERS[name])
    assert_same_weights(got, expected)
    ours, theirs = optimizer.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert type(ours[key]) is np.ndarray
        if key.startswith("state."):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-10, err_msg=key)
        else:
            np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


@pytest.mark.parametrize("name", ["Adam", "AdamW amsgrad", "RMSprop centered momentum",
                                  "Adagrad", "SGD nesterov weight_decay",
                                  "SGD dampening maximize", "Adam decoupled maximize", "NAdam",
                                  "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"])
@pytest.mark.usefixtures("torch_float64_scalars")  # NAdam's, ASGD's numbers as ours
def test_on_torch_tensors_against_torch_optim(name: str) -> None:
    torch = pytest.importorskip("torch")
    net = model().to(torch)
    optimizer = OPTIMIZERS[name](net.parameters())
    tensors = [p.data.clone().requires_grad_(True) for p in net.parameters()]
    # As arguments, not a group: torch's Adagrad reads initial_accumulator_value there.
    # (AdamW's groups carry decoupled_weight_decay=True, as torch's; not an argument.)
    cls = getattr(torch.optim, type(optimizer).__name__)
    reference = cls(tensors, **{k: v for k, v in optimizer.param_groups[0].hyper.items()
                                if k in inspect.signature(cls).parameters})
    for step in range(STEPS):
        for p, t in zip(net.parameters(), tensors):
            g = torch.sin(t.detach() * (step + 1))  # the same gradients for both
            p.grad[...] = g
            t.grad = g.clone()
        optimizer.step()
        reference.step()
    for p, t in zip(net.parameters(), tensors):
        np.testing.assert_allclose(get(p.data), t.detach().numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_state_is_made_in_the_parameters_library(lib_name: str) -> None:
    lib = library(lib_name)
    net = model().to(lib)
    optimizer = mg.Adagrad(net.parameters(), initial_accumulator_value=0.5)
    for param in net.parameters():
        total = optimizer.state[param]["sum"]
        assert namespace_name(total) == lib_name
        np.testing.assert_array_equal(get(total), np.full(param.shape, 0.5))
    sgd = mg.SGD(net.parameters(), lr=0.1)
    sgd.momentum = 0.9  # state made later, when a hyperparameter asks for it
    assert all(namespace_name(s["momentum_buffer"]) == lib_name for s in sgd.state.values())


def scheduled(lib: types.ModuleType) -> mg.Sequential:
    net = model().to(lib)
    optimizer = mg.Adam(net.parameters(), lr=0.05)
    scheduler = mg.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    fit_steps(net, optimizer, lib, 10, after=scheduler.step)
    return net


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_a_scheduler_drives_an_optimizer_on_another_library(lib_name: str) -> None:
    assert_same_weights(scheduled(library(lib_name)), scheduled(np))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_clip_grad_norm_on_every_library(lib_name: str, norm_type: float) -> None:
    lib = library(lib_name)
    grads = [rng.standard_normal(s) for s in [(3, 4), (4,), (0,), (4, 2)]]
    params = [mg.Parameter(np.zeros(g.shape)) for g in grads]
    for p, g in zip(params, grads):
        p.to(mg.backend.resolve(lib))
        p.grad[...] = put(g, lib)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = float(np.linalg.norm(flat, ord=norm_type))
    total = mg.clip_grad_norm(params, max_norm=0.5, norm_type=norm_type)
    assert type(total) is float
    assert total == pytest.approx(expected, rel=1e-12)
    for p, g in zip(params, grads):
        assert namespace_name(p.grad) == lib_name
        np.testing.assert_allclose(get(p.grad), g * (0.5 / (expected + 1e-6)), rtol=1e-12)
    assert mg.clip_grad_norm(params, 1e9, norm_type) == pytest.approx(0.5, rel=1e-5)
    np.testing.assert_allclose(get(params[0].grad), grads[0] * (0.5 / (expected + 1e-6)),
                               rtol=1e-12)  # under the limit: unchanged


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_clip_grad_value_on_every_library(lib_name: str) -> None:
    lib = library(lib_name)
    param = mg.Parameter(np.zeros((3, 4)))
    param.to(mg.backend.resolve(lib))
    g = rng.standard_normal((3, 4))
    param.grad[...] = put(g, lib)
    grad = param.grad
    mg.clip_grad_value(param, 0.3)
    assert param.grad is grad  # in place
    np.testing.assert_array_equal(get(grad), np.clip(g, -0.3, 0.3))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_nan_gradient_gives_a_nan_norm(lib_name: str) -> None:
    lib = library(lib_name)
    params = [mg.Parameter(np.zeros(2)), mg.Parameter(np.zeros(2))]
    for p, g in zip(params, [[1.0, 2.0], [np.nan, 0.0]]):
        p.to(mg.backend.resolve(lib))
        p.grad[...] = put(np.array(g), lib)
    assert math.isnan(mg.clip_grad_norm(params, 1.0, norm_type=math.inf))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_optimizer_state_is_portable_through_save_and_load(lib_name: str,
                                                           tmp_path: Path) -> None:
    lib = library(lib_name)
    make = OPTIMIZERS["RMSprop centered momentum"]
    uninterrupted, _ = train(np, make, steps=6)
    # 3 steps on the library, saved; resumed for 3 on NumPy ...
    moved, optimizer = train(lib, make, steps=3)
    mg.save(moved, tmp_path / "model.npz")
    mg.save(optimizer, tmp_path / "optim.npz")
    home = model()
    resumed = make(home.parameters())
    mg.load(home, tmp_path / "model.npz")
    mg.load(resumed, tmp_path / "optim.npz")
    fit_steps(home, resumed, np, 3)
    assert_same_weights(home, uninterrupted)
    # ... and the other way: 3 on NumPy, resumed for 3 on the library, state loaded in place
    first, first_optimizer = train(np, make, steps=3)
    mg.save(first, tmp_path / "model.npz")
    mg.save(first_optimizer, tmp_path / "optim.npz")
    away = model().to(lib)
    again = make(away.parameters())
    arrays = {id(a) for s in again.state.values() for a in s.values()}
    mg.load(away, tmp_path / "model.npz")
    mg.load(again, tmp_path / "optim.npz")
    assert {id(a) for s in again.state.values() for a in s.values()} == arrays
    assert all(namespace_name(a) == lib_name for s in again.state.values() for a in s.values())
    fit_steps(away, again, lib, 3)
    assert_same_weights(away, uninterrupted)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_load_state_dict_checks_dtypes_in_numpys_terms(lib_name: str) -> None:
    lib = library(lib_name)
    optimizer = mg.Adam(model().to(lib).parameters())
    state = optimizer.state_dict()
    state["state.0.exp_avg"] = state["state.0.exp_avg"].astype(np.float32)
    with pytest.raises(ValueError, match=r"'state.0.exp_avg' has dtype float32, expected "
                                         r"float64"):
        optimizer.load_state_dict(state)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
@pytest.mark.parametrize("lib_name", FOREIGN)
def test_moving_the_model_after_creating_the_optimizer_is_refused(lib_name: str,
                                                                  name: str) -> None:
    lib = library(lib_name)
    net = model()
    optimizer = OPTIMIZERS[name](net.parameters())
    net.to(lib)
    with pytest.raises(TypeError, match=r"parameter 'weight' is now a "
                       rf"{lib_name}\..*made for numpy\.ndarray parameters.*create the "
                       r"optimizer after model\.to\(\.\.\.\)"):
        optimizer.step()
    net.to(np)  # back where the optimizer was made: it trains again
    fit_steps(net, optimizer, np, 1)
    away = model().to(lib)
    optimizer = OPTIMIZERS[name](away.parameters())
    away.to(np)
    with pytest.raises(TypeError, match=rf"now a numpy\.ndarray.*made for {lib_name}\."):
        optimizer.step()


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_checkpoint_of_a_moved_model_resumes_on_numpy(lib_name: str, tmp_path: Path) -> None:
    lib = library(lib_name)

    def build(on: types.ModuleType) -> tuple[mg.Sequential, mg.Optimizer, Any]:
        net = mg.Sequential(mg.Dense(3, 4, bias=True, rng=0), mg.Dropout(0.3, rng=2),
                            mg.Tanh(), mg.Dense(4, 2, rng=1)).to(on)
        optimizer = mg.AdamW(net.parameters(), lr=0.05)
        return net, optimizer, mg.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    reference = build(np)
    fit_steps(reference[0], reference[1], np, 6, after=reference[2].step)
    first = build(lib)
    assert isinstance(first[0][1].rng, np.random.Generator)  # Dropout's stays NumPy
    fit_steps(first[0], first[1], lib, 3, after=first[2].step)
    path = tmp_path / "checkpoint.npz"
    mg.save_checkpoint(path, model=first[0], optimizer=first[1], scheduler=first[2])
    resumed = build(np)
    mg.load_checkpoint(path, model=resumed[0], optimizer=resumed[1], scheduler=resumed[2])
    fit_steps(resumed[0], resumed[1], np, 3, after=resumed[2].step)
    assert_same_weights(resumed[0], reference[0])  # masks, moments and lr all resumed


@pytest.mark.parametrize("lib_name", LIBRARIES)
def test_rprops_kernels_on_every_library(lib_name: str) -> None:
    # Their contract beyond what Rprop's trajectories show: NaN stays NaN, −0 is 0.
    lib = library(lib_name)
    x = put(np.array([-2.0, 0.0, 3.0, np.nan, -0.0, 1e-300]), lib)
    kernels = mg.backend.update_kernels(x)
    xp = mg.backend.namespace(x)
    mask = xp.zeros(x.shape, dtype=xp.bool, device=mg.backend.device(x))
    out = xp.zeros_like(x)
    kernels.sign_select_into(x, 0.5, 1.0, 1.2, out=out, mask=mask)
    np.testing.assert_array_equal(get(out), [0.5, 1.0, 1.2, np.nan, 1.0, 1.2])
    np.testing.assert_array_equal(get(mask), [True, False, False, False, False, False])
    kernels.sign_select_into(x, 0.5, 1.0, 1.2, out=x, mask=mask)  # in place
    np.testing.assert_array_equal(get(x), get(out))
    kernels.fill_where_(out, mask, 0.0)
    np.testing.assert_array_equal(get(out), [0.0, 1.0, 1.2, np.nan, 1.0, 1.2])
