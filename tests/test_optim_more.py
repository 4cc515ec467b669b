"""NAdam, RAdam, Adamax, Adadelta, Rprop and ASGD -- and the options added to SGD, Adam,
AdamW, RMSprop and Adagrad -- against torch.optim (LBFGS: test_lbfgs.py).

Every configuration PyTorch's own tests run (``optim_inputs_func_*`` of
``torch/testing/_internal/common_optimizers.py``, CPU, float hyperparameters): 10 steps
with the same θ-dependent gradients in float64 to 1e-10, weights and state, on one
parameter group and on two (the second with its own lr and, where there is one, weight
decay, as PyTorch's ``test_param_groups_*``). Then the state kept as numbers (NAdam's,
ASGD's), saved and refused, and the defaults. (The tables of test_optim_torch.py,
test_optimizers.py and test_backend_optim.py have the new optimizers too: 30 steps of
every option at once, schedulers, refused hyperparameters, allocation-free steps,
resumption, other array libraries.)
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_float64_scalars")  # NAdam's, ASGD's numbers
STEPS = 10


# PyTorch's configurations (desc: kwargs), CUDA-only ("capturable") and tensor-lr ones
# left out: minigrad's lr is a float, and it has one implementation per rule.
TORCH_CONFIGS: dict[str, dict[str, dict[str, object]]] = {
    "NAdam": {
        "default": {},
        "non-default lr": {"lr": 1e-3},
        "non-zero momentum_decay": {"momentum_decay": 6e-3},
        "weight_decay": {"weight_decay": 0.1},
        "weight_decay, momentum_decay": {"weight_decay": 0.1, "momentum_decay": 6e-3},
        "decoupled_weight_decay": {"weight_decay": 0.1, "momentum_decay": 6e-3,
                                   "decoupled_weight_decay": True},
        "maximize": {"weight_decay": 0.1, "maximize": True},
    },
    "RAdam": {
        "default": {},
        "non-default lr": {"lr": 2e-3},
        "non-default eps": {"eps": 1e-6},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "decoupled_weight_decay": {"weight_decay": 0.1, "decoupled_weight_decay": True},
        "maximize": {"weight_decay": 0.1, "maximize": True},
    },
    "Adamax": {
        "default": {},
        "non-default lr": {"lr": 0.1},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"maximize": True},
        "maximize, weight_decay": {"weight_decay": 0.1, "maximize": True},
    },
    "Adadelta": {
        "default": {},
        "non-default lr": {"lr": 0.01},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"maximize": True},
        "maximize, weight_decay": {"weight_decay": 0.1, "maximize": True},
        "rho": {"rho": 0.95, "weight_decay": 0.9},
    },
    "Rprop": {
        "default": {},
        "non-default lr": {"lr": 2e-4},
        "non-default etas": {"etas": (0.5, 1.5)},
        "non-default step_sizes": {"step_sizes": (2e-6, 100)},
        "maximize": {"maximize": True},
    },
    "ASGD": {
        "default": {},
        "non-default lambd": {"lambd": 0.1},
        "non-default lr": {"lr": 0.02},
        "t0": {"t0": 100},
        "maximize": {"maximize": True},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize, nonzero weight_decay": {"weight_decay": 0.1, "maximize": True},
    },
    "SGD": {  # lr given: minigrad's SGD has no default (PyTorch's test default is 1e-3)
        "default": {"lr": 1e-3},
        "non-default lr": {"lr": 1e-2},
        "non-zero weight_decay": {"lr": 1e-3, "weight_decay": 0.5},
        "momentum": {"lr": 1e-3, "momentum": 0.9},
        "maximize": {"lr": 1e-3, "weight_decay": 0.1, "maximize": True},
        "dampening": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5},
        "weight_decay w/ momentum": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.1},
        "nesterov": {"lr": 1e-3, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    },
    "Adam": {
        "default": {},
        "non-default lr": {"lr": 0.01},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"weight_decay": 0.1, "maximize": True},
        "amsgrad": {"weight_decay": 0.1, "amsgrad": True},
        # not in PyTorch's table, which predates it:
        "decoupled_weight_decay": {"weight_decay": 0.1, "decoupled_weight_decay": True},
    },
    "AdamW": {
        "default": {},
        "non-default lr": {"lr": 0.01},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"weight_decay": 0.1, "maximize": True},
        "amsgrad": {"weight_decay": 0.1, "amsgrad": True},
    },
    "RMSprop": {
        "default": {},
        "non-default lr": {"lr": 1e-3},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"maximize": True},
        "centered": {"weight_decay": 0.1, "centered": True},
        "maximize, weight_decay": {"maximize": True, "weight_decay": 0.1},
        "momentum": {"weight_decay": 0.1, "centered": True, "momentum": 0.1},
        "maximize, centered, weight_decay, w/ momentum": {
            "weight_decay": 0.1, "centered": True, "momentum": 0.1, "maximize": True},
    },
    "Adagrad": {
        "default": {},
        "nonzero weight_decay": {"weight_decay": 0.1},
        "maximize": {"weight_decay": 0.1, "maximize": True},
        "non-default lr": {"lr": 0.1},
        "initial_accumulator_value": {"initial_accumulator_value": 0.1, "weight_decay": 0.1},
        "lr_decay": {"lr": 0.1, "lr_decay": 0.5, "weight_decay": 0.1},
    },
}
# Two of PyTorch's configurations cannot tell in 10 steps (Rprop's step sizes never
# reach (2e-6, 100), ASGD's averaging starts after t0 = 100 steps): these can.
MORE_CONFIGS = {
    "Rprop": {"step sizes reached": {"etas": (0.3, 1.6), "step_sizes": (1e-3, 0.03)}},
    "ASGD": {"averaging from step 3": {"t0": 3, "lambd": 0.1}},
}
CASES = [(name, desc, kwargs) for configs in (TORCH_CONFIGS, MORE_CONFIGS)
         for name, table in configs.items() for desc, kwargs in table.items()]
NEW = ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"]


def problem(seed=0):
    """Two parameters and a gradient depending on θ and t (a drifting quadratic plus a
    cubic), so an error in the rule feeds back into later gradients."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    drift = [rng.standard_normal((STEPS + 1, *s.shape)) for s in start]

    def grad(index, theta, t):
        return theta + 0.1 * theta**3 + drift[index][t]

    return start, grad


def as_groups(params, kwargs):
    """PyTorch's param-group tests: the second group with its own lr, and no weight
    decay where the optimizer has it."""
    second = {"params": params[1:], "lr": 0.5 * kwargs.get("lr", 0.01)}
    if "weight_decay" in kwargs:
        second["weight_decay"] = 0.0
    return [{"params": params[:1]}, second]


def run_pair(make_mg, make_torch):
    """``STEPS`` steps of both with the same gradients; the minigrad optimizer and its
    parameters, after checking them and its state against torch's to 1e-10."""
    start, grad = problem()
    params = [mg.Parameter(s, name=f"p{i}") for i, s in enumerate(start)]
    tensors = [torch.tensor(s, requires_grad=True) for s in start]
    opt, topt = make_mg(params), make_torch(tensors)
    for t in range(1, STEPS + 1):
        for i, (p, tp) in enumerate(zip(params, tensors)):
            p.grad[...] = grad(i, p.data, t)
            tp.grad = torch.tensor(grad(i, tp.detach().numpy(), t))
        opt.step()
        topt.step()
    for p, tp in zip(params, tensors):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
        theirs = topt.state[tp]  # the state too (PyTorch's names are minigrad's)
        for key, value in [*opt.state[p].items(), *getattr(opt, "scalars", {p: {}})[p].items()]:
            np.testing.assert_allclose(value, theirs[key].detach().numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=key)
    return opt, params


@pytest.mark.parametrize(("name", "desc", "kwargs"), CASES,
                         ids=[f"{n}-{d}" for n, d, _ in CASES])
@pytest.mark.parametrize("grouped", [False, True], ids=["one group", "two groups"])
def test_every_pytorch_config_matches_torch(name, desc, kwargs, grouped):
    def split(params):
        return as_groups(params, kwargs) if grouped else params

    opt, params = run_pair(lambda p: getattr(mg, name)(split(p), **kwargs),
                           lambda p: getattr(torch.optim, name)(split(p), **kwargs))
    start, _ = problem()
    assert not np.allclose(params[0].data, start[0], rtol=1e-6)  # it did move
    assert opt.steps == STEPS


def test_the_options_change_the_trajectory():
    # Guards the comparisons above against an option silently ignored by both sides
    # (each config must end elsewhere than the same optimizer's default).
    def final(name, kwargs):
        opt, params = run_pair(lambda p: getattr(mg, name)(p, **kwargs),
                               lambda p: getattr(torch.optim, name)(p, **kwargs))
        return np.concatenate([p.data.ravel() for p in params]
                              + [a.ravel() for s in opt.state.values() for a in s.values()])

    for name, table in TORCH_CONFIGS.items():
        base = final(name, table["default"])
        for desc, kwargs in {**table, **MORE_CONFIGS.get(name, {})}.items():
            if desc not in ("default", "non-default step_sizes", "t0"):  # (see MORE_CONFIGS)
                changed = final(name, kwargs)  # (more state, e.g. a momentum buffer: longer)
                assert changed.shape != base.shape or not np.allclose(
                    changed, base, rtol=1e-10, atol=1e-12), (name, desc)  # beyond the 1e-10


# -- state kept as numbers ------------------------------------------------------------


def test_scalar_state_is_saved_per_parameter():
    params = [mg.Parameter(np.ones(2)), mg.Parameter(np.ones(3))]
    for p in params:
        p.grad[...] = 1.0
    nadam, asgd = mg.NAdam(params), mg.ASGD(params, lr=0.5)
    assert nadam.state_dict()["state.1.mu_product"] == 1.0
    nadam.step()
    asgd.step()
    state = nadam.state_dict()
    mu = 0.9 * (1 - 0.5 * 0.96 ** (1 * 4e-3))
    assert state["state.0.mu_product"] == state["state.1.mu_product"] == mu
    assert state["state.1.mu_product"].dtype == np.float64
    assert nadam.scalars[params[1]] == {"mu_product": mu}
    assert asgd.scalars[params[0]] == {"eta": 0.5 / (1 + 1e-4 * 0.5) ** 0.75, "mu": 1.0}
    assert sorted(k for k in asgd.state_dict() if k.startswith("state.0")) == [
        "state.0.ax", "state.0.eta", "state.0.mu"]


BAD_STATES = [
    (mg.NAdam, "state.0.mu_product", np.array(-0.5), ValueError, "must be finite and >= 0"),
    (mg.NAdam, "state.0.mu_product", np.array([1.0]), ValueError, "must be a 0-d float64"),
    (mg.NAdam, "state.1.mu_product", None, KeyError, r"missing keys \['state.1.mu_product'\]"),
    (mg.ASGD, "state.0.eta", np.array(np.inf), ValueError, "'state.0.eta' must be finite"),
    (mg.ASGD, "state.1.mu", np.array(1.0, np.float32), ValueError, "must be a 0-d float64"),
    (mg.RAdam, "param_groups.0.decoupled_weight_decay", np.array(1.0), ValueError,
     "has dtype float64, expected bool"),
]


@pytest.mark.parametrize(("cls", "key", "value", "error", "message"), BAD_STATES)
def test_bad_states_are_refused_and_change_nothing(cls, key, value, error, message):
    params = [mg.Parameter(np.ones(2)), mg.Parameter(np.ones(3))]
    opt = cls(params)
    for p in params:
        p.grad[...] = 0.5
    opt.step()
    before = opt.state_dict()
    state = dict(before)
    if value is None:
        del state[key]
    else:
        state[key] = value
    with pytest.raises(error, match=message):
        opt.load_state_dict(state)
    after = opt.state_dict()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


# -- hyperparameters ----------------------------------------------------------------------


def test_adamw_is_always_decoupled():
    opt = mg.AdamW([mg.Parameter(np.ones(2))])
    assert opt.decoupled_weight_decay is True
    with pytest.raises(ValueError, match="AdamW: decoupled_weight_decay is always True"):
        opt.decoupled_weight_decay = False
    with pytest.raises(ValueError, match="AdamW: decoupled_weight_decay is always True"):
        mg.AdamW([{"params": [mg.Parameter(np.ones(2))], "decoupled_weight_decay": False}])


def test_defaults_are_pytorchs():
    p = [mg.Parameter(np.ones(2))]
    for name in NEW:
        ours = getattr(mg, name)(p).hyperparameters()
        theirs = getattr(torch.optim, name)([torch.ones(2, requires_grad=True)]).defaults
        for key, value in ours.items():
            expected = theirs[key]
            assert value == (tuple(expected) if isinstance(expected, tuple) else expected), (
                name, key)
