"""LBFGS against torch.optim.LBFGS: the same closure (gradients written by hand, so
only the optimizers differ) on a least-squares problem and on Rosenbrock's, for every
configuration PyTorch's own tests run (``optim_inputs_func_lbfgs``, its tensor lr left
out) and a short history; the weights to 1e-10, the evaluation counts exactly, the
history close. Then: its schedule, its state saved and resumed exactly, refused states
and arguments.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import lr_scheduler as sched
from tests.test_optimizers import save_and_load

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_float64_scalars")  # its numbers, as ours

rng = np.random.default_rng(1)
A, B = rng.standard_normal((9, 7)), rng.standard_normal(9)


def least_squares(arrays):
    """½‖A x − b‖² of the joined parameters, and its gradient split back."""
    x = np.concatenate([a.ravel() for a in arrays])
    residual = A @ x - B
    return 0.5 * float(residual @ residual), split_like(A.T @ residual, arrays)


def rosenbrock(arrays):
    """Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)², and its gradient split back."""
    x = np.concatenate([a.ravel() for a in arrays])
    step, rest = x[1:] - x[:-1] ** 2, 1 - x[:-1]
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * step - 2 * rest
    g[1:] += 200 * step
    return float(np.sum(100 * step**2 + rest**2)), split_like(g, arrays)


def split_like(flat, arrays):
    sizes = np.cumsum([a.size for a in arrays])[:-1]
    return [part.reshape(a.shape) for part, a in zip(np.split(flat, sizes), arrays)]


def closures(objective, params, tensors=()):
    """The same objective as each optimizer's closure (its gradients written by hand)."""
    def ours():
        value, grads = objective([p.data for p in params])
        for p, g in zip(params, grads):
            p.grad[...] = g
        return value

    def theirs():
        value, grads = objective([t.detach().numpy() for t in tensors])
        for t, g in zip(tensors, grads):
            t.grad = torch.tensor(g)
        return torch.tensor(value)

    return ours, theirs


CONFIGS = {  # PyTorch's (its "Tensor lr" left out), then the history shifting and the
    # line search's zoom phase (too long a first try: bracketed, then shrunk, 60 times)
    "default": {},
    "non-default lr": {"lr": 0.01},
    "tolerance_grad": {"tolerance_grad": 1e-6},
    "strong_wolfe": {"line_search_fn": "strong_wolfe"},
    "short history": {"history_size": 2, "max_iter": 7},
    "short history, strong_wolfe": {"history_size": 2, "max_iter": 7, "max_eval": 12,
                                    "line_search_fn": "strong_wolfe"},
    "strong_wolfe zooming": {"line_search_fn": "strong_wolfe", "lr": 10.0},
}
PROBLEMS = {"least squares": (least_squares, 3), "Rosenbrock": (rosenbrock, 4)}
# Rosenbrock's valley makes fixed steps (no line search) chaotic: an ulp of another
# summation order in a dot product grows past 1e-10 within its 80 iterations, so there
# the line-search configurations only.
CASES = [(problem_name, desc) for problem_name in PROBLEMS for desc in CONFIGS
         if problem_name == "least squares" or "strong_wolfe" in desc]
START = [np.array([-1.2, 1.0, -0.5]), np.array([[0.3, 0.8], [1.1, -0.7]])]


def lbfgs_pair(objective, kwargs, steps, start=START):
    """``steps`` steps of both from ``start``, their losses compared; both optimizers,
    both parameter lists and minigrad's closure."""
    params = [mg.Parameter(s) for s in start]
    tensors = [torch.tensor(s, requires_grad=True) for s in start]
    opt, topt = mg.LBFGS(params, **kwargs), torch.optim.LBFGS(tensors, **kwargs)
    ours, theirs = closures(objective, params, tensors)
    for _ in range(steps):
        assert opt.step(ours) == pytest.approx(float(topt.step(theirs)), rel=1e-10)
    return opt, topt, params, tensors, ours


def numpy(value):
    """A state entry of either optimizer (array, tensor, number or a list of them)."""
    if isinstance(value, list):
        return np.array([numpy(item) for item in value])
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


@pytest.mark.parametrize(("problem_name", "desc"), CASES, ids=[f"{p}-{d}" for p, d in CASES])
def test_lbfgs_matches_torch(problem_name, desc):
    objective, steps = PROBLEMS[problem_name]
    opt, topt, params, tensors, _ = lbfgs_pair(objective, CONFIGS[desc], steps)
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
    state, history = topt.state[tensors[0]], opt.history
    assert (history.func_evals, history.n_iter) == (state["func_evals"], state["n_iter"])
    assert len(history.old_dirs) == len(state["old_dirs"]) <= opt.history_size
    for name in ("d", "old_dirs", "old_stps", "ro", "H_diag", "t", "prev_flat_grad"):
        # Looser than θ's 1e-10: near the minimum y = g' − g, s and g itself are
        # differences of nearly equal numbers, and 1 / yᵀs (ro) multiplies their ulps.
        theirs = numpy(state[name])
        np.testing.assert_allclose(numpy(getattr(history, name)), theirs, rtol=1e-6,
                                   atol=1e-9 * max(1.0, np.abs(theirs).max()), err_msg=name)
    assert objective([p.data for p in params])[0] < 0.5 * objective(START)[0]


def test_lbfgs_with_the_line_search_finds_rosenbrocks_minimum():
    # (From here; 5-D Rosenbrock also has a local minimum near (−1, 1, 1, 1, 1).)
    start = [np.array([0.5, 0.8, -0.5]), np.array([[0.3, 0.8], [1.1, -0.7]])]
    _, _, params, _, _ = lbfgs_pair(rosenbrock, {
        "line_search_fn": "strong_wolfe", "max_iter": 100, "max_eval": 200,
        "tolerance_change": 1e-12}, 2, start)
    for p in params:
        np.testing.assert_allclose(p.data, 1.0, atol=1e-6)


def test_lbfgs_needs_a_closure_and_one_group():
    w = mg.Parameter(np.ones(3))
    with pytest.raises(TypeError, match=r"LBFGS: step needs a closure .* opt\.step\(closure\)"):
        mg.LBFGS([w]).step()
    with pytest.raises(ValueError, match="LBFGS: supports one parameter group only"):
        mg.LBFGS([{"params": [w]}, {"params": [mg.Parameter(np.ones(2))]}])
    with pytest.raises(ValueError, match="LBFGS: all parameters must share one array library"):
        mg.LBFGS([w, mg.Parameter(np.ones(2, np.float32))])


def test_lbfgs_stops_at_once_at_a_stationary_point():
    w = mg.Parameter(np.ones(3))
    opt = mg.LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        w.zero_grad()
        return 1.0

    assert opt.step(closure) == 1.0 and len(calls) == 1 and opt.history.n_iter == 0


def test_defaults_are_pytorchs():
    ours = mg.LBFGS([mg.Parameter(np.ones(2))]).hyperparameters()
    assert ours == torch.optim.LBFGS([torch.ones(2, requires_grad=True)]).defaults
    assert mg.LBFGS([mg.Parameter(np.ones(2))], max_iter=8).max_eval == 10


# -- schedules and state ----------------------------------------------------------------


def test_a_scheduler_drives_lbfgs():
    params = [mg.Parameter(np.array([-1.2, 1.0, -0.5])), mg.Parameter(np.zeros((2, 2)))]
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt, topt = mg.LBFGS(params, max_iter=3), torch.optim.LBFGS(tensors, max_iter=3)
    ours, theirs = closures(least_squares, params, tensors)
    mine, torchs = sched.StepLR(opt, 1, 0.5), torch.optim.lr_scheduler.StepLR(topt, 1, 0.5)
    for _ in range(4):
        opt.step(ours)
        topt.step(theirs)
        mine.step()
        torchs.step()
    assert opt.lr == topt.param_groups[0]["lr"] == 1 / 16
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_lbfgs_state_resumes_exactly_and_keeps_line_search_fn():
    kwargs = {"history_size": 3, "max_iter": 4, "line_search_fn": "strong_wolfe"}
    opt, _, params, _, closure = lbfgs_pair(rosenbrock, kwargs, 2)
    saved = save_and_load(opt.state_dict())
    assert saved["param_groups.0.line_search_fn"] == "strong_wolfe"
    assert saved["state.0.old_dirs"].shape == (len(opt.history.old_dirs), 7)
    assert 0 < len(opt.history.old_dirs) <= 3 and saved["state.0.n_iter"] == opt.history.n_iter
    weights = [p.data.copy() for p in params]
    for _ in range(2):
        opt.step(closure)

    fresh = [mg.Parameter(w) for w in weights]
    again = mg.LBFGS(fresh, line_search_fn=None)  # both come from the state
    again.load_state_dict(saved)
    assert again.line_search_fn == "strong_wolfe" and again.history_size == 3
    fresh_closure, _ = closures(rosenbrock, fresh)
    for _ in range(2):
        again.step(fresh_closure)
    for a, b in zip(params, fresh):
        np.testing.assert_array_equal(a.data, b.data)
    assert again.history.func_evals == opt.history.func_evals
    ours, theirs = opt.state_dict(), again.state_dict()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)

    plain = mg.LBFGS([mg.Parameter(w) for w in weights], line_search_fn="strong_wolfe")
    plain.load_state_dict(save_and_load(mg.LBFGS([mg.Parameter(w) for w in weights])
                                        .state_dict()))
    assert plain.line_search_fn is None and plain.history.d is None


def test_bad_lbfgs_states_are_refused_and_change_nothing():
    opt, *_ = lbfgs_pair(least_squares, {"history_size": 4}, 1)
    good = opt.state_dict()
    bad = [({"param_groups.0.line_search_fn": np.array("armijo")}, "must be '' .None. or"),
           ({"state.0.d": np.zeros(6)}, r"'state.0.d' has shape \(6,\)"),
           ({"state.0.ro": np.zeros(5), "state.0.old_dirs": np.zeros((5, 7)),
             "state.0.old_stps": np.zeros((5, 7))}, "holds 5 pairs, more than its history_size"),
           ({"state.0.ro": np.zeros(0)}, r"'state.0.old_dirs' has shape \(\d, 7\)"),
           ({"state.0.n_iter": np.array(-1)}, "the counts must be >= 0"),
           ({"state.0.t": np.array(np.nan)}, "'state.0.t' has non-finite values"),
           ({"param_groups.0.max_iter": np.array(0)}, "max_iter must be an int >= 1")]
    for change, message in bad:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict({**good, **change})
    with pytest.raises(KeyError, match=r"missing keys \['state.0.prev_loss'\]"):
        opt.load_state_dict({k: v for k, v in good.items() if k != "state.0.prev_loss"})
    after = opt.state_dict()
    for key in good:
        np.testing.assert_array_equal(after[key], good[key], err_msg=key)


# -- the line search on its own: PyTorch's functions, many lines ----------------------------


def test_cubic_interpolate_is_pytorchs():
    from torch.optim.lbfgs import _cubic_interpolate

    from minigrad.optim.line_search import cubic_interpolate

    draws = np.random.default_rng(2).standard_normal((400, 6))
    for x1, f1, g1, x2, f2, g2 in draws:  # d2² < 0 (the middle) in about a third of them
        bounds = None if x1 > 0 else (min(x1, x2) - 1, max(x1, x2) + 1)
        theirs = _cubic_interpolate(x1, f1, torch.tensor(g1), x2, f2, torch.tensor(g2),
                                    bounds=bounds)
        assert cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds) == pytest.approx(
            float(theirs), rel=1e-14, abs=1e-14)


def wavy(x):
    """A nonconvex function along any line: Σ log(1 + (x − c)²) w + ‖x‖²/20."""
    centers, weights = np.linspace(-2, 2, x.size), np.linspace(0.5, 2, x.size)
    shifted = x - centers
    return (float(np.sum(weights * np.log1p(shifted**2)) + 0.05 * x @ x),
            weights * 2 * shifted / (1 + shifted**2) + 0.1 * x)


@pytest.mark.parametrize("t", [1e-3, 0.03, 3.0, 30.0])
def test_strong_wolfe_is_pytorchs(t):
    """Too short a first try (extrapolation) and too long ones (bracketing, then the
    zoom with its cubic steps and its moves away from the bracket's ends), along 100
    descent directions: the same evaluations, step, loss and gradient."""
    from torch.optim.lbfgs import _strong_wolfe

    from minigrad.optim.line_search import strong_wolfe

    for seed in range(100):
        draw = np.random.default_rng(seed)
        x = draw.standard_normal(6) * 5
        f, g = wavy(x)
        d = -g + draw.standard_normal(6) * np.abs(g).max()  # not the steepest one
        d = d if g @ d < 0 else -g

        def ours(x0, step, d):
            return wavy(x0[0] + step * d)

        def theirs(x0, step, d):
            value, grad = wavy(x0[0].numpy() + float(step) * d.numpy())  # (t: a tensor)
            return value, torch.tensor(grad)

        got = strong_wolfe(ours, [x], t, d, f, g, float(g @ d))
        want = _strong_wolfe(theirs, [torch.tensor(x)], t, torch.tensor(d), f,
                             torch.tensor(g), torch.tensor(g @ d))
        assert got[3] == want[3], seed  # the evaluations: the same path
        assert got[0] == pytest.approx(want[0], rel=1e-12), seed
        assert got[2] == pytest.approx(float(want[2]), rel=1e-10), seed
        np.testing.assert_allclose(got[1], want[1].numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("lib_name", ["array_api_strict", "torch"])
def test_lbfgs_on_another_library_reaches_numpys_weights(lib_name):
    from tests.backends import get, library
    from tests.test_backend_optim import X, Y, model, mse_gradient, put

    def fit(lib):
        net = model().to(lib)
        x, y = put(X, lib), put(Y, lib)
        opt = mg.LBFGS(net.parameters(), max_iter=8, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            pred = net(x)
            net.backward(mse_gradient(pred, y))
            return float(np.mean((get(pred) - Y) ** 2))

        for _ in range(2):
            opt.step(closure)
        assert all(type(a) is type(net.parameters()[0].data)
                   for a in [opt.history.d, *opt.history.old_dirs])  # in the library
        return [get(p.data) for p in net.parameters()], opt.history.func_evals

    (expected, evals), (got, got_evals) = fit(np), fit(library(lib_name))
    assert got_evals == evals
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
