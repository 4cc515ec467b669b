"""fit's sample_weight and class_weight (Keras's weighting: per-element loss × weight,
then the loss's own reduction) and accumulate_grad_batches (equal to one k-times-larger
batch): against hand computations, PyTorch, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

N, D_IN, C = 10, 3, 3


def data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, D_IN)), rng.integers(0, C, n), rng.uniform(0.1, 2.0, n)


def dense(out=C, seed=0, bias=True):
    return mg.Sequential(mg.Dense(D_IN, out, bias=bias, rng=seed))


def train(model, loss, X, y, opt=None, **options):
    opt = opt or mg.SGD(model.parameters(), lr=0.1)
    options = {"epochs": 1, "batch_size": N, "shuffle": False, "progress": False, **options}
    return mg.fit(model, loss, opt, X, y, **options)


# -- sample weights against hand computations ---------------------------------------------


def test_mse_sample_weight_is_the_weighted_sum_over_the_element_count():
    X, _, w = data()
    Y = np.random.default_rng(1).standard_normal((N, 2))
    model = dense(2)
    W0, b0 = model[0].weight.data.copy(), model[0].bias.data.copy()
    history = train(model, mg.MSELoss(), X, Y, sample_weight=w)
    residual = X @ W0 + b0 - Y
    # Keras: Σ_i w_i ℓ_i / (number of elements), not / Σ w
    assert history.history["loss"][0] == pytest.approx((w[:, None] * residual**2).sum() / (N * 2),
                                                       rel=1e-14)
    G = 2 * w[:, None] * residual / (N * 2)
    np.testing.assert_allclose(model[0].weight.data, W0 - 0.1 * X.T @ G, rtol=1e-13)
    np.testing.assert_allclose(model[0].bias.data, b0 - 0.1 * G.sum(0), rtol=1e-13)


def test_all_ones_weights_train_exactly_as_no_weights():
    X, y, _ = data()
    plain, weighted = dense(), dense()
    train(plain, mg.CrossEntropyLoss(), X, y, batch_size=4, epochs=2)
    h = train(weighted, mg.CrossEntropyLoss(), X, y, batch_size=4, epochs=2,
              sample_weight=np.ones(N), class_weight={0: 1.0})
    np.testing.assert_allclose(weighted[0].weight.data, plain[0].weight.data, rtol=1e-14)
    assert np.isfinite(h.history["loss"]).all()


def test_a_sequence_weight_of_shape_n_weights_every_time_step_and_n_t_each_step():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((4, 5, D_IN))
    y = rng.integers(0, C, (4, 5))
    loss = mg.CrossEntropyLoss()
    for w in (rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, (4, 5))):
        model = dense()
        z = X @ model[0].weight.data + model[0].bias.data  # before the step
        h = train(model, loss, X, y, sample_weight=w, batch_size=4)
        log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
        ell = -np.take_along_axis(log_p, y[..., None], -1)[..., 0]
        full = np.broadcast_to(w if w.ndim == 2 else w[:, None], (4, 5))
        assert h.history["loss"][0] == pytest.approx((full * ell).sum() / 20, rel=1e-13)


def test_class_weight_from_integer_one_hot_and_binary_targets():
    X, y, _ = data()
    table = np.array([0.5, 2.0, 1.0])
    W0 = dense()[0].weight.data
    b0 = dense()[0].bias.data
    z = X @ W0 + b0
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ell = -log_p[np.arange(N), y]
    expected = (table[y] * ell).sum() / N
    for targets in (y, np.eye(C)[y]):  # class indices; one-hot rows (class = argmax)
        for weight in (table, {0: 0.5, 1: 2.0}):  # a dict's missing class weighs 1
            h = train(dense(), mg.CrossEntropyLoss(), X, targets, class_weight=weight)
            assert h.history["loss"][0] == pytest.approx(expected, rel=1e-13)
    # binary float targets (N, 1): class round(y)
    t = (y[:, None] == 1).astype(float)
    model = dense(1)
    z1 = X @ model[0].weight.data + model[0].bias.data
    ell1 = np.logaddexp(0, z1) - t * z1
    h = train(model, mg.BCEWithLogitsLoss(), X, t, class_weight={1: 3.0})
    assert h.history["loss"][0] == pytest.approx((np.where(t == 1, 3.0, 1.0) * ell1).mean(),
                                                 rel=1e-13)


def test_sample_and_class_weights_multiply_as_in_keras():
    X, y, w = data()
    table = np.array([0.5, 2.0, 1.0])
    a, b = dense(), dense()
    train(a, mg.CrossEntropyLoss(), X, y, sample_weight=w, class_weight=table, batch_size=3)
    train(b, mg.CrossEntropyLoss(), X, y, sample_weight=w * table[y], batch_size=3)
    np.testing.assert_allclose(a[0].weight.data, b[0].weight.data, rtol=1e-14)


def test_metrics_are_unweighted_and_the_weighted_validation_loss():
    X, y, w = data()
    model = dense()
    opt = mg.SGD(model.parameters(), lr=0.0)  # nothing changes: compare the logs alone
    h = mg.fit(model, mg.CrossEntropyLoss(), opt, X, y, epochs=1, batch_size=N,
               sample_weight=w, metrics=[mg.accuracy], progress=False,
               validation_data=(X, y, w))
    pred = mg.predict(model, X)
    assert h.history["accuracy"][0] == mg.accuracy(pred, y)  # not weighted
    assert h.history["val_accuracy"][0] == mg.accuracy(pred, y)
    ell = mg.CrossEntropyLoss(reduction="none")(pred, y)
    assert h.history["val_loss"][0] == pytest.approx((w * ell).sum() / N, rel=1e-13)
    assert h.history["loss"][0] == pytest.approx(h.history["val_loss"][0], rel=1e-13)


# -- against PyTorch ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["ce", "mse", "sequence"])
def test_weighted_training_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n = 12
    if case == "sequence":
        X = rng.standard_normal((n, 4, D_IN))
        y = rng.integers(0, C, (n, 4))
    else:
        X = rng.standard_normal((n, D_IN))
        y = rng.integers(0, C, n) if case == "ce" else rng.standard_normal((n, C))
    w = rng.uniform(0.1, 3.0, n)
    table = np.array([1.0, 0.3, 2.5])
    class_weight = None if case == "mse" else {0: 1.0, 1: 0.3, 2: 2.5}
    loss = mg.MSELoss() if case == "mse" else mg.CrossEntropyLoss()
    model = dense()
    lin = torch.nn.Linear(D_IN, C).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(model[0].weight.data.T))
        lin.bias.copy_(torch.from_numpy(model[0].bias.data))
    opt = mg.SGD(model.parameters(), lr=0.2, momentum=0.9)
    topt = torch.optim.SGD(lin.parameters(), lr=0.2, momentum=0.9)
    mg.fit(model, loss, opt, X, y, epochs=2, batch_size=5, shuffle=False, progress=False,
           sample_weight=w, class_weight=class_weight)
    for _ in range(2):
        for s in range(0, n, 5):
            xb, yb = torch.from_numpy(X[s:s + 5]), torch.from_numpy(y[s:s + 5])
            wb = torch.from_numpy(w[s:s + 5])
            out = lin(xb)
            if case == "mse":
                ell = torch.nn.functional.mse_loss(out, yb, reduction="none") * wb[:, None]
            else:
                cw = torch.from_numpy(table)[yb]
                ell = torch.nn.functional.cross_entropy(
                    out.reshape(-1, C), yb.reshape(-1), reduction="none").reshape(yb.shape)
                ell = ell * (wb if yb.ndim == 1 else wb[:, None]) * cw
            topt.zero_grad()
            ell.mean().backward()
            topt.step()
    np.testing.assert_allclose(model[0].weight.data, lin.weight.detach().numpy().T, rtol=1e-12)
    np.testing.assert_allclose(model[0].bias.data, lin.bias.detach().numpy(), rtol=1e-12)


# -- gradient accumulation ---------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("loss", ["mean", "weighted-ce", "sum"])
def test_accumulating_k_batches_equals_one_k_times_larger_batch(optimizer, loss):
    X, y, w = data(n=10)
    make = {"mean": lambda: mg.MSELoss(),
            "weighted-ce": lambda: mg.CrossEntropyLoss(weight=[1.0, 3.0, 0.5]),
            "sum": lambda: mg.MSELoss(reduction="sum")}[loss]
    targets = y if loss == "weighted-ce" else np.random.default_rng(4).standard_normal((10, C))
    results = []
    # 5 batches of 2 in groups of 3 = groups of 6 and (the last, partial) 4 samples
    for size, k in ((2, 3), (6, 1)):
        model = dense()
        opt = (mg.SGD(model.parameters(), lr=0.05, momentum=0.5) if optimizer == "sgd"
               else mg.Adam(model.parameters(), lr=0.01))
        mg.fit(model, make(), opt, X, targets, epochs=3, batch_size=size, rng=7,
               accumulate_grad_batches=k, progress=False,
               sample_weight=w if loss == "weighted-ce" else None)
        results.append(model[0].weight.data)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-14)


class Steps(mg.Callback):
    def on_train_begin(self, model):
        self.steps, self.batches = [], []

    def on_optimizer_step(self, step):
        self.steps.append(step)

    def on_train_batch_end(self, batch, logs):
        self.batches.append(batch)


def test_callbacks_and_schedules_see_optimizer_steps_when_accumulating():
    X, y, _ = data()
    model = dense()
    opt = mg.SGD(model.parameters(), lr=1.0)
    schedule = mg.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    steps = Steps()
    train(model, mg.CrossEntropyLoss(), X, y, opt, epochs=2, batch_size=2,
          accumulate_grad_batches=2,
          callbacks=[steps, mg.LearningRateScheduler(schedule, interval="batch")])
    assert steps.batches == [0, 1, 2, 3, 4] * 2
    assert steps.steps == [0, 1, 2] * 2  # 5 batches: groups of 2, 2 and the last 1
    assert opt.lr == pytest.approx(0.5**6)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_bad_accumulate_grad_batches_is_refused(value):
    X, y, _ = data()
    with pytest.raises(ValueError, match="fit: accumulate_grad_batches must be an int >= 1"):
        train(dense(), mg.CrossEntropyLoss(), X, y, accumulate_grad_batches=value)


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "error", "match"),
    [
        (-np.ones(N), ValueError, "sample_weight must be finite and >= 0, got -1"),
        (np.r_[np.nan, np.ones(N - 1)], ValueError, "finite and >= 0, got nan"),
        (np.ones(N - 1), ValueError, r"sample_weight must have one row per sample \(10"),
        (np.float64(2.0), ValueError, "one row per sample"),
        (np.array(["a"] * N), TypeError, "sample_weight must hold real numbers"),
        (np.ones((N, 5)), ValueError, r"sample_weight of shape \(10, 5\) does not fit"),
    ],
)
def test_bad_sample_weights_are_refused(weight, error, match):
    X, y, _ = data()
    with pytest.raises(error, match=match):
        train(dense(), mg.CrossEntropyLoss(), X, y, sample_weight=weight)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        ({5: 2.0}, "class_weight names class 5, but the model outputs 3 classes"),
        ({-1: 2.0}, r"keys must be class indices \(ints >= 0\), got -1"),
        ({"a": 2.0}, "keys must be class indices"),
        ({0: -2.0}, r"class_weight\[0\] must be a finite number >= 0, got -2.0"),
        ({0: np.inf}, "must be a finite number >= 0"),
        ({}, "class_weight is an empty dict"),
        ([1.0, 2.0], "class_weight has 2 weights, but the model outputs 3 classes"),
        ([1.0, -2.0, 1.0], "class_weight must be finite and >= 0"),
        ([[1.0]], "class_weight must be a dict"),
    ],
)
def test_bad_class_weights_are_refused(weight, match):
    X, y, _ = data()
    with pytest.raises(ValueError, match=match):
        train(dense(), mg.CrossEntropyLoss(), X, y, class_weight=weight)


def test_class_weight_refuses_a_target_class_the_model_does_not_output():
    X, _, _ = data()
    t = np.full((N, 1), 2.0)  # binary BCE targets rounded to class 2
    with pytest.raises(ValueError, match=r"a target has class 2, outside the model's 2"):
        train(dense(1), mg.BCEWithLogitsLoss(), X, t, class_weight={0: 1.0, 1: 2.0})


def test_a_weighted_loss_without_per_sample_losses_is_refused():
    X, y, w = data()

    class Total(mg.Loss):  # "none" returns one number for the whole batch
        def forward(self, pred, target):
            self._cache = pred
            return self.reduce(np.sum(pred, keepdims=True).reshape(1))

        def backward(self, grad=None):
            return np.ones_like(self._cache) * self.upstream(grad, self._cache)

    with pytest.raises(ValueError, match="per-element losses with one row per sample"):
        train(dense(), Total(), X, y, sample_weight=w)
