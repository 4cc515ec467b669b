"""Per-batch callback hooks that see the optimizer, schedules and clipping from fit,
gradient clipping against torch, a Loss subclass that skips super().__init__()."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

import minigrad as mg


def data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, X @ rng.standard_normal((3, 1))


def model_and_opt(seed=0, lr=0.05):
    model = mg.Sequential(mg.Dense(3, 4, rng=seed), mg.Tanh(), mg.Dense(4, 1, rng=seed + 1))
    return model, mg.SGD(model.parameters(), lr=lr, momentum=0.9)


class Recorder(mg.Callback):  # no __init__ at all
    def on_train_begin(self, model):
        self.events = []

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch", epoch))

    def on_train_batch_begin(self, batch):
        self.events.append(("begin", batch))

    def on_train_batch_end(self, batch, logs):
        grad_norm = float(np.linalg.norm(self.model.parameters()[0].grad))
        self.events.append(("end", batch, logs["loss"], self.optimizer.lr, grad_norm))


def test_batch_hooks_run_in_order_and_see_model_and_optimizer():
    X, y = data()
    model, opt = model_and_opt()
    recorder = Recorder()
    mg.fit(model, mg.MSELoss(), opt, X, y, epochs=2, batch_size=16, rng=0, progress=False,
           callbacks=[recorder])
    assert recorder.model is model and recorder.optimizer is opt
    kinds = [event[:2] for event in recorder.events]
    assert kinds == [("epoch", 0), ("begin", 0), ("end", 0), ("begin", 1), ("end", 1),
                     ("begin", 2), ("end", 2)] * 1 + [("epoch", 1), ("begin", 0), ("end", 0),
                                                      ("begin", 1), ("end", 1), ("begin", 2),
                                                      ("end", 2)]
    ends = [event for event in recorder.events if event[0] == "end"]
    assert all(event[3] == 0.05 and event[4] > 0 and np.isfinite(event[2]) for event in ends)


def test_a_per_batch_schedule_from_fit_equals_the_hand_written_loop():
    X, y = data()
    model, opt = model_and_opt()
    schedule = mg.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=6)
    mg.fit(model, mg.MSELoss(), opt, X, y, epochs=2, batch_size=16, shuffle=False,
           progress=False, callbacks=[mg.LearningRateScheduler(schedule, interval="batch")])
    by_hand, opt2 = model_and_opt()
    schedule2 = mg.lr_scheduler.OneCycleLR(opt2, max_lr=0.1, total_steps=6)
    loss = mg.MSELoss()
    for _ in range(2):
        for start in range(0, 40, 16):
            loss(by_hand(X[start:start + 16]), y[start:start + 16])
            opt2.zero_grad()
            by_hand.backward(loss.backward())
            opt2.step()
            schedule2.step()
    for a, b in zip(model.parameters(), by_hand.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    assert opt.hyperparameters() == opt2.hyperparameters()


def test_reduce_on_plateau_and_epoch_schedules_from_fit():
    X, y = data()
    model, opt = model_and_opt()
    plateau = mg.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0,
                                                threshold_mode="abs")
    mg.fit(model, mg.MSELoss(), opt, X, y, epochs=3, rng=0, progress=False,
           validation_data=(X, y), callbacks=[mg.LearningRateScheduler(plateau)])
    assert opt.lr == pytest.approx(0.05 * 0.5**2)  # epoch 0 sets best; 1 and 2 reduce
    with pytest.raises(ValueError, match="monitor 'val_loss' is not among"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, progress=False,
               callbacks=[mg.LearningRateScheduler(plateau)])
    other = mg.lr_scheduler.StepLR(model_and_opt()[1], step_size=1)
    with pytest.raises(ValueError, match="drives another optimizer"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, progress=False,
               callbacks=[mg.LearningRateScheduler(other)])


def test_fit_grad_clip_clips_before_each_step():
    X, y = data()
    model, opt = model_and_opt(lr=0.1)

    class Norms(mg.Callback):
        norms: ClassVar[list[float]] = []

        def on_train_batch_end(self, batch, logs):
            self.norms.append(np.sqrt(sum(np.sum(p.grad**2) for p in self.optimizer.params)))

    norms = Norms()
    mg.fit(model, mg.MSELoss(), opt, 10 * X, 10 * y, epochs=2, rng=0, progress=False,
           grad_clip=0.5, callbacks=[norms])
    assert max(norms.norms) <= 0.5 + 1e-9 and max(norms.norms) > 0.49
    with pytest.raises(ValueError, match="fit: grad_clip must be a finite number >= 0"):
        mg.fit(model, mg.MSELoss(), opt, X, y, epochs=1, grad_clip=-1.0, progress=False)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = [mg.Parameter(np.zeros_like(g)) for g in grads]
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(params, tensors, grads):
        p.grad[...] = g
        t.grad = torch.tensor(g)
    total = mg.clip_grad_norm(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_bad_arguments():
    w = mg.Parameter(np.zeros(3))
    w.grad[...] = [-3.0, 0.2, 5.0]
    mg.clip_grad_value([w], 1.0)
    np.testing.assert_array_equal(w.grad, [-1.0, 0.2, 1.0])
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be"):
        mg.clip_grad_norm([w], -1.0)
    with pytest.raises(ValueError, match="clip_grad_norm: norm_type must be"):
        mg.clip_grad_norm([w], 1.0, norm_type=0)
    with pytest.raises(TypeError, match=r"params\[0\] is a ndarray"):
        mg.clip_grad_value([np.zeros(2)], 1.0)  # type: ignore[list-item]


class HalfMSE(mg.Loss):
    """A user loss whose __init__ forgets super().__init__()."""

    def __init__(self, scale=0.5):
        self.scale = scale

    def forward(self, pred, target):
        self._cache = (np.asarray(pred) - target) * self.scale
        return float(np.sum(self._cache * (np.asarray(pred) - target)) / len(pred))

    def backward(self):
        return 2 * self._saved() / len(self._saved())


def test_a_loss_that_skips_super_init_trains_in_fit():
    X, y = data()
    model, opt = model_and_opt()
    history = mg.fit(model, HalfMSE(), opt, X, y, epochs=3, rng=0, progress=False,
                     validation_data=(X, y))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert repr(HalfMSE()) == "HalfMSE(reduction='mean')"
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\)"):
        HalfMSE().backward()


def test_history_plot_draws_training_and_validation(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = data()
    model, opt = model_and_opt()
    history = mg.fit(model, mg.MSELoss(), opt, X, y, epochs=3, rng=0, progress=False,
                     validation_data=(X, y), metrics=[("mae", lambda p, t: float(
                         np.mean(np.abs(p - t))))])
    figure = history.plot(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["loss", "mae"]
    assert [len(axis.lines) for axis in figure.axes] == [2, 2]
    np.testing.assert_allclose(figure.axes[0].lines[1].get_ydata(), history.history["val_loss"])
    with pytest.raises(ValueError, match="not logged"):
        history.plot(keys=["accuracy"])
    import matplotlib.pyplot as plt

    plt.close("all")


def dropout_model(seed):
    return mg.Sequential(mg.Dense(3, 8, rng=seed), mg.Tanh(), mg.Dropout(0.3, rng=seed + 5),
                         mg.Dense(8, 1, rng=seed + 1))


def run(model, opt, schedule, epochs, rng):
    X, y = data()
    mg.fit(model, mg.MSELoss(), opt, X, y, epochs=epochs, batch_size=8, rng=rng,
           progress=False, callbacks=[mg.LearningRateScheduler(schedule)])


def build(seed):
    model = dropout_model(seed)
    opt = mg.Adam(model.parameters(), lr=0.02)
    return model, opt, mg.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)


def test_checkpoint_resumes_fit_bit_for_bit(tmp_path):
    straight = build(0)
    run(*straight, 4, np.random.default_rng(3))

    first = build(0)
    rng = np.random.default_rng(3)
    run(*first, 2, rng)
    path = tmp_path / "run.npz"
    mg.save_checkpoint(path, model=first[0], optimizer=first[1], scheduler=first[2], rng=rng)

    resumed = build(7)  # other weights, other dropout seed
    rng2 = np.random.default_rng(99)
    mg.load_checkpoint(path, model=resumed[0], optimizer=resumed[1], scheduler=resumed[2],
                       rng=rng2)
    run(*resumed, 2, rng2)
    for a, b in zip(straight[0].parameters(), resumed[0].parameters()):
        assert np.array_equal(a.data, b.data)
    assert resumed[1].lr == straight[1].lr


def test_load_checkpoint_refuses_missing_parts_and_changes_nothing(tmp_path):
    model, opt, _ = build(0)
    path = tmp_path / "run.npz"
    mg.save_checkpoint(path, model=model, optimizer=opt)
    other, other_opt, other_schedule = build(1)
    before = other.state_dict()
    with pytest.raises(KeyError, match="lacks"):
        mg.load_checkpoint(path, model=other, optimizer=other_opt, scheduler=other_schedule)
    with pytest.raises(KeyError, match="unexpected key 'optimizer"):
        mg.load_checkpoint(path, model=other)
    for key, value in other.state_dict().items():
        assert np.array_equal(value, before[key])


def test_linear_one_cycle_stepped_after_every_batch_of_fit_finishes():
    """fit steps a per-batch schedule after the last batch too: one step past the
    cycle's end, where "linear" extrapolates below 0 (PyTorch's value, never used)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    for three_phase in (False, True):
        model = mg.Sequential(mg.Dense(3, 1, rng=0))
        opt = mg.SGD(model.parameters(), lr=0.1, momentum=0.9)
        schedule = mg.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=4, steps_per_epoch=4,
                                              anneal_strategy="linear",
                                              three_phase=three_phase)
        history = mg.fit(model, mg.MSELoss(), opt, X, y, epochs=4, batch_size=8,
                         progress=False,
                         callbacks=[mg.LearningRateScheduler(schedule, interval="batch")])
        assert len(history.history["loss"]) == 4
        assert opt.lr == 0.0
