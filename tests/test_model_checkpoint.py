"""ModelCheckpoint keeps the best epoch's model on disk; a scheduler whose state holds
±inf (ReduceLROnPlateau's fresh ``best``) saves as finite arrays and resumes exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg


class RecordWeights(mg.Callback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, epoch, logs):
        self.states.append(self.model.state_dict())
        return False


def line_fit(tmp_path, **options):
    """Train w·x towards y = 2x from w = 0 while validating against y = x: the
    validation loss falls until w passes 1, then rises."""
    X = np.linspace(-1, 1, 8)[:, None]
    model = mg.Sequential(mg.Dense(1, 1, rng=0))
    model[0].weight.data[...] = 0.0
    checkpoint = mg.ModelCheckpoint(tmp_path / "best.npz", **options)
    record = RecordWeights()
    history = mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, 2 * X,
                     epochs=12, batch_size=8, shuffle=False, progress=False,
                     validation_data=(X, X), callbacks=[record, checkpoint])
    return model, checkpoint, record, history


def test_the_file_holds_the_best_epochs_weights(tmp_path):
    model, checkpoint, record, history = line_fit(tmp_path)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert 0 < best < len(val) - 1  # a real minimum, not the first or last epoch
    assert (checkpoint.best_epoch, checkpoint.best) == (best, val[best])
    restored = mg.Sequential(mg.Dense(1, 1, rng=5))
    mg.load(restored, tmp_path / "best.npz")
    for key, value in record.states[best].items():
        np.testing.assert_array_equal(restored.state_dict()[key], value)
    assert not np.array_equal(restored[0].weight.data, model[0].weight.data)


def test_max_mode_and_saving_every_epoch(tmp_path):
    _, checkpoint, record, _ = line_fit(tmp_path, monitor="loss", mode="max",
                                              save_best_only=False)
    assert checkpoint.best_epoch == 0  # the training loss only falls
    restored = mg.Sequential(mg.Dense(1, 1, rng=5))
    mg.load(restored, tmp_path / "best.npz")  # the latest epoch's model
    np.testing.assert_array_equal(restored[0].weight.data, record.states[-1]["0.weight"])


def test_auto_mode_and_bad_arguments(tmp_path):
    assert mg.ModelCheckpoint(tmp_path / "a.npz", monitor="val_accuracy").mode == "max"
    assert mg.ModelCheckpoint(tmp_path / "a.npz").mode == "min"
    with pytest.raises(ValueError, match="ModelCheckpoint: cannot tell whether larger or "
                                         "smaller is better for monitor 'lr'"):
        mg.ModelCheckpoint(tmp_path / "a.npz", monitor="lr")
    with pytest.raises(ValueError, match="ModelCheckpoint: mode must be"):
        mg.ModelCheckpoint(tmp_path / "a.npz", mode="best")
    with pytest.raises(TypeError, match="ModelCheckpoint: monitor must be a log key"):
        mg.ModelCheckpoint(tmp_path / "a.npz", monitor=3)
    with pytest.raises(TypeError, match="ModelCheckpoint: path must be"):
        mg.ModelCheckpoint(3)
    model = mg.Sequential(mg.Dense(1, 1, rng=0))
    with pytest.raises(ValueError, match=r"ModelCheckpoint: monitor 'val_loss' is not among the "
                                         r"logged quantities \['loss'\] \(pass validation_data"):
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), np.zeros((2, 1)),
               np.zeros((2, 1)), epochs=1, callbacks=[mg.ModelCheckpoint(tmp_path / "a.npz")])
    assert not (tmp_path / "a.npz").exists()


@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_fresh_plateau_schedulers_infinite_best_is_saved_finite_and_restored(tmp_path, mode):
    def build():
        model = mg.Sequential(mg.Dense(2, 1, rng=0))
        opt = mg.SGD(model.parameters(), lr=0.1)
        return model, opt, mg.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, patience=0)

    model, opt, scheduler = build()
    state = scheduler.state_dict()
    assert all(np.isfinite(v).all() for k, v in state.items() if v.dtype.kind in "fi")
    assert state["best_infinite"] == (1 if mode == "min" else -1)
    mg.save_checkpoint(tmp_path / "c.npz", model=model, optimizer=opt, scheduler=scheduler)
    _, opt2, restored = build()
    restored.best = 0.5
    mg.load_checkpoint(tmp_path / "c.npz", model=build()[0], optimizer=opt2, scheduler=restored)
    assert restored.best == (math.inf if mode == "min" else -math.inf)
    scheduler.step(2.0)
    again = build()[2]
    again.load_state_dict(scheduler.state_dict())
    assert again.best == 2.0 and again.state_dict()["best_infinite"] == 0
    bad = dict(scheduler.state_dict(), best_infinite=np.array(2))
    with pytest.raises(ValueError, match="'best' must be finite and 'best_infinite' -1, 0 or 1"):
        again.load_state_dict(bad)
