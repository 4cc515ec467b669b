"""SGD and Adam against their published update rules and torch.optim; hyperparameter
checks; in-place, allocation-free steps; state_dict round trips and exact resumption."""

from __future__ import annotations

import io

import numpy as np
import pytest

import minigrad as mg

STEPS = 20


# -- the published rules, written out (torch.optim docs' pseudo-code) --------------------


def sgd_reference(theta, grad_fn, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """torch.optim.SGD's algorithm (dampening τ = 0), out of place:

        for t = 1 ... : g_t ← ∇f(θ_{t−1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t−1}
            if μ ≠ 0:   b_t ← μ b_{t−1} + (1 − τ) g_t   if t > 1   else   b_t ← g_t
                        g_t ← g_t + μ b_t   if nesterov   else   g_t ← b_t
            θ_t ← θ_{t−1} − γ g_t
    """
    b = None
    for t in range(1, STEPS + 1):
        g = grad_fn(theta, t)
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = momentum * b + g if t > 1 else g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
    return theta


def adam_reference(theta, grad_fn, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """torch.optim.Adam's algorithm (amsgrad off), out of place:

        m_0 ← 0, v_0 ← 0
        for t = 1 ... : g_t ← ∇f(θ_{t−1})
            if λ ≠ 0:   g_t ← g_t + λ θ_{t−1}
            m_t ← β₁ m_{t−1} + (1 − β₁) g_t
            v_t ← β₂ v_{t−1} + (1 − β₂) g_t²
            m̂_t ← m_t / (1 − β₁ᵗ)       v̂_t ← v_t / (1 − β₂ᵗ)
            θ_t ← θ_{t−1} − γ m̂_t / (√v̂_t + ε)
    """
    beta1, beta2 = betas
    m = v = np.zeros_like(theta)
    for t in range(1, STEPS + 1):
        g = grad_fn(theta, t)
        if weight_decay != 0:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def make_problem(seed=0):
    """Two parameters and a gradient depending on θ and t (a drifting quadratic plus a cubic
    term), so errors in the rule feed back into later gradients."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,)]
    start = [rng.standard_normal(s) for s in shapes]
    scale = [rng.random(s) + 0.5 for s in shapes]
    drift = [rng.standard_normal((STEPS + 1, *s)) for s in shapes]

    def grad_fn(index):
        return lambda theta, t: scale[index] * theta + 0.1 * theta**3 + drift[index][t]

    return start, [grad_fn(i) for i in range(len(shapes))]


def run_minigrad(make_opt, start, grad_fns):
    params = [mg.Parameter(s, name=f"p{i}") for i, s in enumerate(start)]
    opt = make_opt(params)
    for t in range(1, STEPS + 1):
        for param, grad_fn in zip(params, grad_fns):
            param.grad[...] = grad_fn(param.data, t)
        opt.step()
    return [p.data for p in params]


def run_torch(torch_opt, start, grad_fns, **settings):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(s, requires_grad=True) for s in start]
    opt = getattr(torch.optim, torch_opt)(params, **settings)
    for t in range(1, STEPS + 1):
        for param, grad_fn in zip(params, grad_fns):
            param.grad = torch.tensor(grad_fn(param.detach().numpy(), t))
        opt.step()
    return [p.detach().numpy() for p in params]


SGD_SETTINGS = [
    {"lr": 0.05},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.3},
    {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.2},
]
ADAM_SETTINGS = [
    {"lr": 0.01},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-3},
    {"lr": 0.02, "betas": (0.0, 0.0), "eps": 1e-6, "weight_decay": 0.5},
]


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
def test_sgd_matches_the_published_rule_and_torch(settings):
    start, grad_fns = make_problem(1)
    got = run_minigrad(lambda p: mg.SGD(p, **settings), start, grad_fns)
    for s, g, theta in zip(start, grad_fns, got):
        np.testing.assert_allclose(theta, sgd_reference(s, g, **settings), rtol=1e-12, atol=1e-14)
    for expected, theta in zip(run_torch("SGD", start, grad_fns, **settings), got):
        np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=str)
def test_adam_matches_the_published_rule_and_torch(settings):
    start, grad_fns = make_problem(2)
    got = run_minigrad(lambda p: mg.Adam(p, **settings), start, grad_fns)
    for s, g, theta in zip(start, grad_fns, got):
        np.testing.assert_allclose(theta, adam_reference(s, g, **settings), rtol=1e-12,
                                   atol=1e-14)
    for expected, theta in zip(run_torch("Adam", start, grad_fns, **settings), got):
        np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-14)


def test_the_settings_lead_to_different_trajectories():
    # Guards the comparisons above against settings that are silently ignored.
    start, grad_fns = make_problem(3)
    finals = [run_minigrad(lambda p, s=s: mg.SGD(p, **s), start, grad_fns)[0]
              for s in SGD_SETTINGS]
    finals += [run_minigrad(lambda p, s=s: mg.Adam(p, **s), start, grad_fns)[0]
               for s in ADAM_SETTINGS]
    for i in range(len(finals)):
        for j in range(i):
            assert not np.allclose(finals[i], finals[j], rtol=1e-6), (i, j)


OPTIMIZERS = {
    "SGD": lambda p: mg.SGD(p, lr=0.1),
    "SGD+nesterov+wd": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                        weight_decay=0.01),
    "Adam": lambda p: mg.Adam(p),
    "Adam+wd": lambda p: mg.Adam(p, weight_decay=0.01),
    "NAdam": lambda p: mg.NAdam(p, weight_decay=0.01),
    "RAdam": lambda p: mg.RAdam(p, decoupled_weight_decay=True, weight_decay=0.01),
    "Adamax": lambda p: mg.Adamax(p, maximize=True),
    "Adadelta": lambda p: mg.Adadelta(p),
    "Rprop": lambda p: mg.Rprop(p),
    "ASGD": lambda p: mg.ASGD(p, t0=1),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_steps_are_in_place_and_keep_float32(make):
    rng = np.random.default_rng(4)
    param = mg.Parameter(rng.standard_normal((4, 3)).astype(np.float32), name="w")
    data, grad = param.data, param.grad
    opt = make([param])
    for _ in range(3):
        grad[...] = rng.standard_normal((4, 3))
        before = data.copy()
        opt.step()
        assert param.data is data and param.grad is grad
        assert data.dtype == np.float32 and not np.array_equal(data, before)
    assert all(a.dtype == np.float32 for arrays in opt.state.values() for a in arrays.values())


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_a_step_allocates_nothing_parameter_sized(make, step_peak_bytes):
    param = mg.Parameter(np.ones(250_000), name="w")  # 2 MB
    param.grad[...] = 0.5
    assert (peak := step_peak_bytes(make([param]))) < 100_000, f"a step allocated {peak} bytes"


# -- hyperparameters ----------------------------------------------------------------------


BAD_SETTINGS = [
    (mg.SGD, {"lr": float("nan")}, "SGD: lr must be a finite number >= 0"),
    (mg.SGD, {"lr": -0.1}, "SGD: lr must be a finite number >= 0"),
    (mg.SGD, {"lr": float("inf")}, "SGD: lr must be a finite number >= 0"),
    (mg.SGD, {"lr": True}, "SGD: lr must be a finite number >= 0"),
    (mg.SGD, {"lr": 0.1, "momentum": -0.1}, "SGD: momentum must be a finite number >= 0"),
    (mg.SGD, {"lr": 0.1, "momentum": float("nan")}, "SGD: momentum must be"),
    (mg.SGD, {"lr": 0.1, "nesterov": True}, "SGD: nesterov=True needs momentum > 0"),
    (mg.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": 1}, "SGD: nesterov must be a bool"),
    (mg.SGD, {"lr": 0.1, "weight_decay": -1e-4}, "SGD: weight_decay must be a finite number >= 0"),
    (mg.Adam, {"lr": -1e-3}, "Adam: lr must be a finite number >= 0"),
    (mg.Adam, {"lr": float("nan")}, "Adam: lr must be a finite number >= 0"),
    (mg.Adam, {"lr": float("inf")}, "Adam: lr must be a finite number >= 0"),
    (mg.Adam, {"betas": (1.0, 0.999)}, r"Adam: betas\[0\] must be a number in \[0, 1\)"),
    (mg.Adam, {"betas": (0.9, -0.1)}, r"Adam: betas\[1\] must be a number in \[0, 1\)"),
    (mg.Adam, {"betas": (-0.1, 0.999)}, r"Adam: betas\[0\] must be a number in \[0, 1\)"),
    (mg.Adam, {"betas": (0.9, 1.0)}, r"Adam: betas\[1\] must be a number in \[0, 1\)"),
    (mg.Adam, {"betas": (0.9, float("nan"))}, r"Adam: betas\[1\] must be"),
    (mg.Adam, {"betas": 0.9}, "Adam: betas must be a pair"),
    (mg.Adam, {"betas": (0.9, 0.99, 0.999)}, "Adam: betas must be a pair"),
    (mg.Adam, {"eps": -1e-8}, "Adam: eps must be a finite number > 0"),
    (mg.Adam, {"weight_decay": -0.1}, "Adam: weight_decay must be a finite number >= 0"),
]


@pytest.mark.parametrize(("cls", "settings", "message"), BAD_SETTINGS)
def test_bad_hyperparameters_raise(cls, settings, message):
    dense = mg.Dense(2, 2, rng=0)
    dense.weight.grad[...] = 1.0
    before = dense.weight.data.copy()
    expected = TypeError if "must be a bool" in message else ValueError  # Python's rule
    with pytest.raises(expected, match=message):
        cls(dense.parameters(), **settings)
    np.testing.assert_array_equal(dense.weight.data, before)
    np.testing.assert_array_equal(dense.weight.grad, 1.0)


def test_edge_hyperparameters_are_accepted():
    params = mg.Dense(2, 2, rng=0).parameters()
    mg.Adam(params, betas=(0.0, 0.0), eps=5e-324)  # the smallest eps > 0
    mg.SGD(params, lr=1, momentum=0)


def test_learning_rate_can_be_changed_between_steps():
    param = mg.Parameter(np.zeros(2), name="w")
    param.grad[...] = 1.0
    opt = mg.SGD([param], lr=0.1)
    opt.step()
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(param.data, [-0.6, -0.6], rtol=1e-15)


def test_reprs():
    params = mg.Dense(2, 2, rng=0).parameters()
    assert repr(mg.SGD(params, 0.1, 0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, "
        "maximize=False)"
    )
    assert repr(mg.Adam(params)) == (
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False, "
        "maximize=False, decoupled_weight_decay=False)"
    )
    assert repr(mg.Rprop(params)) == (
        "Rprop(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-06, 50.0), maximize=False)"
    )


# -- state_dict ---------------------------------------------------------------------------


def make_model(seed):
    rng = np.random.default_rng(seed)
    return mg.Sequential(mg.Dense(3, 8, rng=rng), mg.ReLU(), mg.Dense(8, 4, rng=rng))


RESUMABLE = {
    "SGD+momentum": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                     weight_decay=1e-3),
    "SGD+dampening": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, dampening=0.3),
    "Adam": lambda p: mg.Adam(p, lr=0.01, weight_decay=1e-3),
    "NAdam groups": lambda p: mg.NAdam([{"params": p[:2]}, {"params": p[2:], "lr": 0.02}],
                                       lr=0.01, weight_decay=1e-3),
    "RAdam": lambda p: mg.RAdam(p, lr=0.01, weight_decay=1e-3, decoupled_weight_decay=True),
    "Adamax": lambda p: mg.Adamax(p, lr=0.01, weight_decay=1e-3),
    "Adadelta": lambda p: mg.Adadelta(p, rho=0.95),
    "Rprop": lambda p: mg.Rprop(p, lr=0.001, etas=(0.4, 1.3)),
    "ASGD groups": lambda p: mg.ASGD([{"params": p[:2]}, {"params": p[2:], "lr": 0.05}],
                                     lr=0.1, t0=3, lambd=0.01),
}


def train(model, opt, batches):
    loss = mg.CrossEntropyLoss()
    for x, y in batches:
        loss(model(x), y)
        opt.zero_grad()
        model.backward(loss.backward())
        opt.step()


def save_and_load(state):
    """Through an in-memory .npz, as a user would save it (no pickling allowed)."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("make_opt", RESUMABLE.values(), ids=RESUMABLE.keys())
def test_training_resumes_bit_identically_after_a_state_dict_round_trip(make_opt):
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((16, 3)), rng.integers(0, 4, 16)) for _ in range(20)]
    model = make_model(0)
    opt = make_opt(model.parameters())
    train(model, opt, batches[:10])
    model_state, opt_state = save_and_load(model.state_dict()), save_and_load(opt.state_dict())
    train(model, opt, batches[10:])

    fresh = make_model(1)  # other weights; every bit comes from the saved state
    fresh_opt = make_opt(fresh.parameters())
    fresh.load_state_dict(model_state)
    fresh_opt.load_state_dict(opt_state)
    assert fresh_opt.steps == 10
    train(fresh, fresh_opt, batches[10:])
    for (name, a), b in zip(model.named_parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    for key, value in opt.state_dict().items():
        np.testing.assert_array_equal(value, fresh_opt.state_dict()[key], err_msg=key)


def test_load_state_dict_reads_an_npz_archive_directly(tmp_path):
    w = mg.Parameter(np.ones(3), name="w")
    opt = mg.Adam([w], lr=0.1)
    w.grad[...] = [1.0, -2.0, 3.0]
    opt.step()
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    restored = mg.Adam([mg.Parameter(np.ones(3), name="w")])
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as archive:
        restored.load_state_dict(archive)
    assert restored.steps == 1 and restored.lr == 0.1
    np.testing.assert_array_equal(restored.state[restored.params[0]]["exp_avg_sq"],
                                  opt.state[w]["exp_avg_sq"])


def test_state_dict_is_flat_arrays_and_copies():
    w = mg.Parameter(np.ones((2, 3)), name="w")
    b = mg.Parameter(np.ones(3, np.float32), name="b")
    opt = mg.SGD([w, b], lr=0.1, momentum=0.9)
    w.grad[...] = 1.0
    opt.step()
    state = opt.state_dict()
    assert sorted(state) == [
        "optimizer", "param_groups.0.dampening", "param_groups.0.lr", "param_groups.0.maximize",
        "param_groups.0.momentum", "param_groups.0.nesterov", "param_groups.0.params",
        "param_groups.0.weight_decay", "state.0.momentum_buffer", "state.1.momentum_buffer",
        "step"]
    assert all(type(value) is np.ndarray for value in state.values())
    assert state["optimizer"] == "SGD" and state["step"] == 1 and state["step"].dtype == np.int64
    assert state["param_groups.0.lr"].dtype == np.float64
    assert state["param_groups.0.nesterov"].dtype == np.bool_
    assert state["param_groups.0.params"].tolist() == [0, 1]
    assert state["state.1.momentum_buffer"].dtype == np.float32
    np.testing.assert_array_equal(state["state.0.momentum_buffer"], np.ones((2, 3)))
    state["state.0.momentum_buffer"][...] = 7
    assert np.all(opt.state[w]["momentum_buffer"] == 1)  # a copy, not the live buffer
    assert mg.SGD([w], lr=0.1).state_dict().keys() == {"optimizer", "step"} | {
        f"param_groups.0.{k}" for k in ("params", "lr", "momentum", "dampening", "nesterov",
                                         "weight_decay", "maximize")}
    adam = mg.Adam([w, b], betas=(0.5, 0.6)).state_dict()
    assert adam["param_groups.0.betas"].shape == (2,)
    assert adam["param_groups.0.betas"].tolist() == [0.5, 0.6]


def test_load_restores_hyperparameters_as_torch_does():
    w = mg.Parameter(np.ones(2), name="w")
    saved = mg.Adam([w], lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1).state_dict()
    opt = mg.Adam([w])
    opt.load_state_dict(saved)
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (0.05, (0.8, 0.9), 1e-6, 0.1)


def broken(state, key, value):
    changed = dict(state)
    if value is None:
        del changed[key]
    else:
        changed[key] = value
    return changed


def trained_adam():
    rng = np.random.default_rng(6)
    params = [mg.Parameter(rng.standard_normal((2, 3)), name="w"),
              mg.Parameter(rng.standard_normal(3).astype(np.float32), name="b")]
    opt = mg.Adam(params, lr=0.01)
    for param in params:
        param.grad[...] = 1.0
    opt.step()
    return opt


BAD_STATES = [
    ("state.1.exp_avg_sq", None, KeyError, r"missing keys \['state.1.exp_avg_sq'\]"),
    ("param_groups.0.lr", None, KeyError, r"missing keys \['param_groups.0.lr'\]"),
    ("optimizer", None, KeyError, r"missing keys \['optimizer'\]"),
    ("state.2.exp_avg", np.zeros(3), KeyError, r"unexpected keys \['state.2.exp_avg'\]"),
    ("optimizer", np.array("SGD"), ValueError, "'optimizer' is 'SGD', expected 'Adam'"),
    ("state.1.exp_avg_sq", np.zeros(4, np.float32), ValueError,
     r"'state.1.exp_avg_sq' has shape \(4,\), expected \(3,\)"),
    ("state.1.exp_avg_sq", np.zeros(3), ValueError,
     "'state.1.exp_avg_sq' has dtype float64, expected float32"),
    ("param_groups.0.betas", np.array([0.9]), ValueError,
     r"'param_groups.0.betas' has shape \(1,\), expected \(2,\)"),
    ("param_groups.0.lr", np.array(1, dtype=np.int64), ValueError,
     "'param_groups.0.lr' has dtype int64, expected float64"),
    ("param_groups.0.lr", np.array(-1.0), ValueError,
     "Adam.load_state_dict: Adam: lr must be a finite number"),
    ("param_groups.0.betas", np.array([0.9, 1.0]), ValueError,
     r"betas\[1\] must be a number in \[0, 1\)"),
    ("state.0.exp_avg_sq", -np.ones((2, 3)), ValueError,
     "'state.0.exp_avg_sq' has negative values"),
    ("state.0.exp_avg", np.full((2, 3), np.nan), ValueError,
     "'state.0.exp_avg' holds non-finite values"),
    ("param_groups.0.params", np.array([1, 0]), ValueError,
     r"param group 0 holds parameters \[0, 1\], the state's holds \[1, 0\]"),
    ("step", np.array(-1), ValueError, "'step' must be >= 0, got -1"),
    ("step", np.array(1.0), ValueError, "'step' has dtype float64, expected int64"),
]


@pytest.mark.parametrize(("key", "value", "error", "message"), BAD_STATES)
def test_load_state_dict_validates_everything_before_writing(key, value, error, message):
    opt = trained_adam()
    before = opt.state_dict()
    other = trained_adam()
    for arrays in other.state.values():
        for array in arrays.values():
            array += 1  # so a partial write would show
    other.lr = 0.5
    with pytest.raises(error, match=message):
        opt.load_state_dict(broken(other.state_dict(), key, value))
    after = opt.state_dict()
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert opt.lr == 0.01


def test_load_state_dict_checks_the_momentum_layout():
    w = mg.Parameter(np.ones(2), name="w")
    with_momentum = mg.SGD([w], lr=0.1, momentum=0.9).state_dict()
    plain = mg.SGD([w], lr=0.1)
    with pytest.raises(KeyError, match=r"unexpected keys \['state.0.momentum_buffer'\]"):
        plain.load_state_dict(broken(with_momentum, "param_groups.0.momentum", np.array(0.0)))
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        plain.load_state_dict(broken(plain.state_dict(), "param_groups.0.nesterov",
                                     np.array(True)))
    # Turning momentum on through a saved state brings its buffers along.
    with_momentum["state.0.momentum_buffer"] = np.array([3.0, 4.0])
    plain.load_state_dict(with_momentum)
    assert plain.momentum == 0.9
    np.testing.assert_array_equal(plain.state[w]["momentum_buffer"], [3.0, 4.0])


def test_hyperparameters_assigned_as_attributes_are_validated_and_take_effect():
    param = mg.Parameter(np.ones(2), name="w")
    opt = mg.SGD([param], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        opt.lr = -5.0
    assert opt.lr == 0.1
    opt.momentum = 0.9  # allocates the momentum buffers
    for _ in range(2):
        param.grad[...] = 1.0
        opt.step()
    # b1 = 1, b2 = 0.9 + 1 = 1.9: w = 1 - 0.1 * (1 + 1.9)
    np.testing.assert_allclose(param.data, 1 - 0.1 * 2.9)
    fresh = mg.SGD([mg.Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.hyperparameters() == opt.hyperparameters()
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        mg.SGD([param], lr=0.1).nesterov = True
    adam = mg.Adam([param])
    with pytest.raises(ValueError, match=r"betas\[1\] must be a number in \[0, 1\)"):
        adam.betas = (0.9, 1.0)
    assert adam.betas == (0.9, 0.999)
