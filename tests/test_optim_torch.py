"""RMSprop, Adagrad, AdamW, Adam(amsgrad), NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD,
parameter groups and every learning-rate schedule against torch.optim: 30 steps with the
same gradients, float64, to 1e-10. (Every configuration of PyTorch's own tests:
test_optim_more.py; LBFGS: test_lbfgs.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import lr_scheduler as sched

STEPS = 30


def problem(seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    drift = [rng.standard_normal((STEPS + 1, *s.shape)) for s in start]

    def grad(index, theta, t):
        return theta + 0.1 * theta**3 + drift[index][t]

    return start, grad


def run_pair(make_mg, make_torch, seed=0, make_mg_sched=None, make_torch_sched=None):
    """Train both with the same θ-dependent gradients; return weights and lrs per step."""
    torch = pytest.importorskip("torch")
    start, grad = problem(seed)
    params = [mg.Parameter(s, name=f"p{i}") for i, s in enumerate(start)]
    tparams = [torch.tensor(s, requires_grad=True) for s in start]
    opt, topt = make_mg(params), make_torch(tparams, torch)
    schedule = make_mg_sched(opt) if make_mg_sched else None
    tschedule = make_torch_sched(topt, torch) if make_torch_sched else None
    for t in range(1, STEPS + 1):
        for i, (p, tp) in enumerate(zip(params, tparams)):
            p.grad[...] = grad(i, p.data, t)
            tp.grad = torch.tensor(grad(i, tp.detach().numpy(), t))
        opt.step()
        topt.step()
        if schedule is not None:
            schedule.step()
            tschedule.step()
            got = [g["lr"] for g in opt.param_groups]
            want = [g["lr"] for g in topt.param_groups]
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14, err_msg=f"step {t}")
            for key in ("momentum", "betas"):
                if key in opt.defaults:
                    np.testing.assert_allclose([g[key] for g in opt.param_groups],
                                               [g[key] for g in topt.param_groups], rtol=1e-12)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    return params


OPTIMIZERS = {
    "RMSprop": ("RMSprop", {"lr": 0.01}),
    "RMSprop+all": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1,
                                "momentum": 0.8, "centered": True}),
    "RMSprop+centered": ("RMSprop", {"lr": 0.005, "centered": True}),
    "Adagrad": ("Adagrad", {"lr": 0.1}),
    "Adagrad+all": ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                                "initial_accumulator_value": 0.3, "eps": 1e-6}),
    "AdamW": ("AdamW", {"lr": 0.01}),
    "AdamW+amsgrad": ("AdamW", {"lr": 0.02, "betas": (0.8, 0.9), "weight_decay": 0.3,
                                "amsgrad": True}),
    "Adam+amsgrad": ("Adam", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    "NAdam+all": ("NAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1,
                            "momentum_decay": 0.01, "decoupled_weight_decay": True,
                            "maximize": True}),
    "RAdam+all": ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1,
                            "decoupled_weight_decay": True, "maximize": True}),
    "Adamax+all": ("Adamax", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6,
                              "weight_decay": 0.1, "maximize": True}),
    "Adadelta+all": ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1,
                                  "maximize": True}),
    "Rprop+all": ("Rprop", {"lr": 0.02, "etas": (0.4, 1.3), "step_sizes": (1e-3, 0.05),
                            "maximize": True}),
    "ASGD+all": ("ASGD", {"lr": 0.02, "lambd": 0.05, "alpha": 0.6, "t0": 5,
                          "weight_decay": 0.1, "maximize": True}),
    "SGD+all": ("SGD", {"lr": 0.01, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1,
                        "maximize": True}),
}


@pytest.mark.parametrize(("name", "settings"), OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.usefixtures("torch_float64_scalars")  # NAdam's, ASGD's numbers as ours
def test_optimizer_matches_torch(name, settings):
    run_pair(lambda p: getattr(mg, name)(p, **settings),
             lambda p, torch: getattr(torch.optim, name)(p, **settings))


def test_parameter_groups_match_torch():
    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:], "lr": 0.01, "weight_decay": 0.0}]

    run_pair(lambda p: mg.SGD(groups(p), lr=0.1, momentum=0.9, weight_decay=0.1),
             lambda p, torch: torch.optim.SGD(groups(p), lr=0.1, momentum=0.9, weight_decay=0.1))
    run_pair(lambda p: mg.Adam(groups(p), lr=0.05, weight_decay=0.2, amsgrad=True),
             lambda p, torch: torch.optim.Adam(groups(p), lr=0.05, weight_decay=0.2,
                                               amsgrad=True))


def test_groups_are_settable_validated_and_saved():
    w, b = mg.Parameter(np.ones((2, 2)), name="w"), mg.Parameter(np.ones(2), name="b")
    opt = mg.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    with pytest.raises(ValueError, match="different lr values"):
        _ = opt.lr
    with pytest.raises(ValueError, match=r"SGD: lr must be a finite number >= 0, got -1 "
                                         r"\(param group 1\)"):
        opt.param_groups[1]["lr"] = -1
    with pytest.raises(KeyError, match="no hyperparameter 'lrr'"):
        opt.param_groups[1]["lrr"] = 0.1
    with pytest.raises(ValueError, match=r"param group 0 has keys \['betas'\]"):
        mg.SGD([{"params": [w], "betas": (0.9, 0.9)}], lr=0.1)
    opt.param_groups[1]["momentum"] = 0.9  # allocates b's buffer only
    assert set(opt.state[b]) == {"momentum_buffer"} and opt.state[w] == {}
    state = opt.state_dict()
    assert state["param_groups.1.lr"] == 0.5 and state["param_groups.1.params"].tolist() == [1]
    fresh = mg.SGD([{"params": [w]}, {"params": [b]}], lr=0.1)
    fresh.load_state_dict(state)
    assert fresh.param_groups[1]["momentum"] == 0.9 and fresh.param_groups[1]["lr"] == 0.5
    opt.lr = 0.2  # sets every group
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2] and opt.lr == 0.2
    with pytest.raises(ValueError, match="holds parameters"):
        mg.SGD([{"params": [w, b]}, {"params": []}], lr=0.1).load_state_dict(state)


def test_a_state_saved_before_groups_loads():
    w = mg.Parameter(np.ones(2), name="w")
    legacy = {"optimizer": np.array("SGD"), "step": np.array(3), "lr": np.array(0.2),
              "momentum": np.array(0.0), "nesterov": np.array(False),
              "weight_decay": np.array(0.0)}
    opt = mg.SGD([w], lr=0.1)
    opt.load_state_dict(legacy)
    assert opt.lr == 0.2 and opt.steps == 3
    assert (opt.dampening, opt.maximize) == (0.0, False)  # as before they existed


ADDED = {  # the hyperparameters added since states were first saved, and their values then
    "SGD": {"dampening": 0.0, "maximize": False},
    "Adam": {"maximize": False, "decoupled_weight_decay": False},
    "AdamW": {"maximize": False, "decoupled_weight_decay": True},
    "RMSprop": {"maximize": False},
    "Adagrad": {"maximize": False},
}


@pytest.mark.parametrize("name", ADDED)
def test_a_state_saved_before_maximize_existed_loads_with_the_former_values(name):
    params = [mg.Parameter(np.ones(2)), mg.Parameter(np.ones(3))]
    groups = [{"params": params[:1]}, {"params": params[1:]}]
    old = getattr(mg, name)(groups, lr=0.1).state_dict()
    for key in [k for k in old if k.split(".")[-1] in ADDED[name]]:
        del old[key]
    opt = getattr(mg, name)(groups, lr=0.3, maximize=True)
    opt.load_state_dict(old)
    assert all(g[key] == value for g in opt.param_groups for key, value in ADDED[name].items())
    assert opt.lr == 0.1


def stepped(optimizer):
    """``optimizer`` after one step (ASGD averages only from its third)."""
    optimizer.step()
    return optimizer


ALLOCATION_FREE = {
    "RMSprop+all": lambda p: mg.RMSprop(p, weight_decay=0.1, momentum=0.9, centered=True,
                                        maximize=True),
    "Adagrad+wd": lambda p: mg.Adagrad(p, weight_decay=0.1, lr_decay=0.1),
    "AdamW+amsgrad": lambda p: mg.AdamW(p, amsgrad=True, maximize=True),
    "Adam groups": lambda p: mg.Adam([{"params": p, "lr": 0.1}]),
    "SGD+all": lambda p: mg.SGD(p, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1,
                                maximize=True),
    "NAdam": lambda p: mg.NAdam(p, weight_decay=0.1),
    "NAdam decoupled": lambda p: mg.NAdam(p, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": lambda p: mg.RAdam(p, weight_decay=0.1, maximize=True),
    "Adamax": lambda p: mg.Adamax(p, weight_decay=0.1),
    "Adadelta": lambda p: mg.Adadelta(p, weight_decay=0.1, maximize=True),
    "Rprop": lambda p: mg.Rprop(p, maximize=True),
    "ASGD averaging": lambda p: stepped(mg.ASGD(p, weight_decay=0.1, t0=0)),
}


@pytest.mark.parametrize("make", ALLOCATION_FREE.values(), ids=ALLOCATION_FREE.keys())
def test_steps_allocate_nothing_parameter_sized_and_keep_float32(make, step_peak_bytes):
    param = mg.Parameter(np.ones(250_000, np.float32), name="w")
    param.grad[...] = 0.5
    opt = make([param])
    assert (peak := step_peak_bytes(opt)) < 50_000, f"a step allocated {peak} bytes"
    assert param.data.dtype == np.float32
    assert all(a.dtype == np.float32 for a in opt.state[param].values())


BAD = [
    (mg.RMSprop, {"alpha": 1.5}, r"RMSprop: alpha must be a number in \[0, 1\]"),
    (mg.RMSprop, {"momentum": -1}, "RMSprop: momentum must be a finite number >= 0"),
    (mg.RMSprop, {"centered": 1}, "RMSprop: centered must be a bool"),
    (mg.RMSprop, {"lr": float("nan")}, "RMSprop: lr must be"),
    (mg.Adagrad, {"lr_decay": -0.1}, "Adagrad: lr_decay must be a finite number >= 0"),
    (mg.Adagrad, {"initial_accumulator_value": -1}, "Adagrad: initial_accumulator_value"),
    (mg.Adagrad, {"eps": float("inf")}, "Adagrad: eps must be"),
    (mg.AdamW, {"betas": (0.9, 1.0)}, r"AdamW: betas\[1\] must be a number in \[0, 1\)"),
    (mg.AdamW, {"weight_decay": -0.1}, "AdamW: weight_decay must be"),
    (mg.Adam, {"amsgrad": "yes"}, "Adam: amsgrad must be a bool"),
    (mg.Adam, {"decoupled_weight_decay": "yes"}, "Adam: decoupled_weight_decay must be a bool"),
    (mg.RMSprop, {"maximize": None}, "RMSprop: maximize must be a bool"),
    (mg.Adagrad, {"maximize": 0}, "Adagrad: maximize must be a bool"),
    (mg.SGD, {"lr": 0.1, "dampening": 1.5}, r"SGD: dampening must be a number in \[0, 1\]"),
    (mg.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5, "nesterov": True},
     "SGD: nesterov=True needs dampening = 0, got 0.5"),
    (mg.SGD, {"lr": 0.1, "maximize": 1}, "SGD: maximize must be a bool"),
    # PyTorch's error inputs for the optimizers below, then the rest of each range
    (mg.NAdam, {"betas": (1.0, 0.0)}, r"NAdam: betas\[0\] must be a number in \[0, 1\)"),
    (mg.NAdam, {"momentum_decay": -0.2}, "NAdam: momentum_decay must be a finite number >= 0"),
    (mg.NAdam, {"decoupled_weight_decay": 1}, "NAdam: decoupled_weight_decay must be a bool"),
    (mg.NAdam, {"maximize": "no"}, "NAdam: maximize must be a bool"),
    (mg.RAdam, {"betas": (1.0, 0.0)}, r"RAdam: betas\[0\] must be"),
    (mg.RAdam, {"weight_decay": -1}, "RAdam: weight_decay must be a finite number >= 0"),
    (mg.RAdam, {"eps": float("nan")}, "RAdam: eps must be"),
    (mg.Adamax, {"betas": (0.0, 1.0)}, r"Adamax: betas\[1\] must be a number in \[0, 1\)"),
    (mg.Adamax, {"lr": -1e-3}, "Adamax: lr must be a finite number >= 0"),
    (mg.Adadelta, {"rho": 1.1}, r"Adadelta: rho must be a number in \[0, 1\], got 1.1"),
    (mg.Adadelta, {"eps": -1e-6}, "Adadelta: eps must be"),
    (mg.Rprop, {"etas": (1.0, 0.5)}, r"Rprop: etas must be a pair \(etaminus, etaplus\) with "
                                     r"0 < etaminus < 1 < etaplus, finite, got \(1.0, 0.5\)"),
    (mg.Rprop, {"etas": (0.5, float("inf"))}, "Rprop: etas must be"),
    (mg.Rprop, {"step_sizes": (1.0, 0.5)}, r"Rprop: step_sizes must be a pair \(min, max\)"),
    (mg.Rprop, {"step_sizes": (-1e-6, 50)}, "Rprop: step_sizes must be"),
    (mg.Rprop, {"step_sizes": 50}, "Rprop: step_sizes must be"),
    (mg.ASGD, {"weight_decay": -0.5}, "ASGD: weight_decay must be a finite number >= 0, "
                                      "got -0.5"),
    (mg.ASGD, {"t0": float("inf")}, "ASGD: t0 must be a finite number >= 0"),
    (mg.ASGD, {"lambd": -1.0}, "ASGD: lambd must be"),
    (mg.ASGD, {"alpha": float("nan")}, "ASGD: alpha must be"),
    (mg.LBFGS, {"lr": -1.0}, "LBFGS: lr must be a finite number >= 0"),
    (mg.LBFGS, {"max_iter": 0}, "LBFGS: max_iter must be an int >= 1, got 0"),
    (mg.LBFGS, {"max_eval": 2.5}, "LBFGS: max_eval must be an int >= 1"),
    (mg.LBFGS, {"history_size": 0}, "LBFGS: history_size must be an int >= 1"),
    (mg.LBFGS, {"tolerance_change": -1.0}, "LBFGS: tolerance_change must be"),
    (mg.LBFGS, {"line_search_fn": "armijo"}, "LBFGS: line_search_fn must be None or "
                                             "'strong_wolfe', got 'armijo'"),
]


@pytest.mark.parametrize(("cls", "settings", "message"), BAD,
                         ids=[f"{c.__name__}-{s}" for c, s, _ in BAD])
def test_bad_hyperparameters_raise(cls, settings, message):
    expected = TypeError if "must be a bool" in message else ValueError  # Python's rule
    with pytest.raises(expected, match=message):
        cls([mg.Parameter(np.ones(2))], **settings)


NON_NEGATIVE = {"RMSprop": "square_avg", "Adagrad": "sum", "AdamW": "exp_avg_sq",
                "NAdam": "exp_avg_sq", "RAdam": "exp_avg_sq", "Adamax": "exp_inf",
                "Adadelta": "acc_delta", "Rprop": "step_size"}


@pytest.mark.parametrize("cls", [getattr(mg, name) for name in NON_NEGATIVE])
def test_negative_second_moments_are_refused(cls):
    w = mg.Parameter(np.ones(2), name="w")
    opt = cls([w])
    w.grad[...] = 1.0
    opt.step()
    state = opt.state_dict()
    name = NON_NEGATIVE[cls.__name__]
    state[f"state.0.{name}"] = -state[f"state.0.{name}"]
    with pytest.raises(ValueError, match="negative values"):
        cls([mg.Parameter(np.ones(2))]).load_state_dict(state)


# -- schedulers ------------------------------------------------------------------------------

def cycles(optimizer):
    """Whether OneCycleLR can cycle ``optimizer``'s momentum (both libraries refuse
    ``cycle_momentum`` for one with neither momentum nor betas: Adadelta, Rprop, ASGD)."""
    return "momentum" in optimizer.defaults or "betas" in optimizer.defaults


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=0.001),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=6),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95**e),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=0.2, total_steps=STEPS,
                                            cycle_momentum=cycles(o)),
    "OneCycleLR+3phase": lambda m, o: m.OneCycleLR(o, max_lr=[0.2, 0.1], epochs=3,
                                                   steps_per_epoch=11, three_phase=True,
                                                   anneal_strategy="linear",
                                                   cycle_momentum=cycles(o)),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=5), m.CosineAnnealingLR(o, T_max=10),
            m.StepLR(o, 3)], milestones=[5, 18]),
}


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "NAdam", "RAdam", "Adamax", "Adadelta",
                                       "Rprop", "ASGD"])
@pytest.mark.usefixtures("torch_float64_scalars")
def test_schedule_matches_torch(make, optimizer):
    # (OneCycleLR cycles β₁ of the optimizers with betas, NAdam's into its mu_product;
    # Rprop reads lr at its first step only, as PyTorch's.)
    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]

    settings = {"lr": 0.1, "momentum": 0.9} if optimizer == "SGD" else {"lr": 0.1}
    run_pair(lambda p: getattr(mg, optimizer)(groups(p), **settings),
             lambda p, torch: getattr(torch.optim, optimizer)(groups(p), **settings),
             make_mg_sched=lambda o: make(sched, o),
             make_torch_sched=lambda o, torch: make(torch.optim.lr_scheduler, o))


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.7, 0.7]
    for kwargs in ({"patience": 1}, {"patience": 0, "cooldown": 2, "factor": 0.5,
                                     "min_lr": 0.02, "threshold_mode": "abs"},
                   {"mode": "max", "patience": 1, "threshold": 0.1}):
        opt = mg.SGD([mg.Parameter(np.zeros(1))], lr=0.1)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        ours = sched.ReduceLROnPlateau(opt, **kwargs)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
        for value in metrics:
            ours.step(value)
            theirs.step(value)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("name", ["CosineAnnealingLR", "SequentialLR", "OneCycleLR"])
def test_schedule_state_dict_resumes_exactly(name):
    def build():
        opt = mg.SGD([mg.Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
        return opt, SCHEDULES[name](sched, opt)

    opt, schedule = build()
    for _ in range(12):
        schedule.step()
    saved = {k: v.copy() for k, v in schedule.state_dict().items()}
    opt_state = opt.state_dict()
    rest = []
    for _ in range(12):
        schedule.step()
        rest.append(opt.param_groups[0].hyper.copy())
    opt2, schedule2 = build()
    opt2.load_state_dict(opt_state)
    schedule2.load_state_dict(saved)
    for expected in rest:
        schedule2.step()
        assert opt2.param_groups[0].hyper == expected


def test_bad_schedule_arguments_raise():
    opt = mg.SGD([mg.Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be an int >= 1"):
        sched.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="OneCycleLR: give either total_steps"):
        sched.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum needs"):
        sched.OneCycleLR(mg.Adagrad([mg.Parameter(np.zeros(1))]), max_lr=0.1, total_steps=3)
    with pytest.raises(ValueError, match="tried to step 4 times"):
        one = sched.OneCycleLR(opt, max_lr=0.1, total_steps=3, cycle_momentum=False)
        for _ in range(4):
            one.step()
    with pytest.raises(ValueError, match="LinearLR: start_factor"):
        sched.LinearLR(opt, start_factor=0)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        sched.ExponentialLR("opt", gamma=0.5)  # type: ignore[arg-type]
