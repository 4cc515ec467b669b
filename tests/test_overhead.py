"""Per-call overhead proportional to the work (issue 23): `predict`, `mode`, `stash`,
`unstash` and the training step use the tree's cached flat view (`minigrad.core.tree`)
instead of walking it -- and the view follows every change of structure. Counts, not
timings."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import minigrad as mg
from minigrad.core import tree as tree_module

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))


def cnn() -> mg.Sequential:
    return mg.Sequential(
        mg.Conv2D(1, 4, 3, padding=1, rng=0), mg.ReLU(), mg.MaxPool2D(2), mg.Flatten(),
        mg.Dropout(0.5, rng=0), mg.Dense(16, 3, rng=1))


@pytest.fixture
def walks(monkeypatch):
    """Counts of tree walks: ``named_children`` calls of any module, and `Tree` builds."""
    counts = {"named_children": 0, "builds": 0}
    for cls in (mg.Module, mg.Sequential, mg.Graph):
        original = cls.named_children

        def counting(self, original=original):
            counts["named_children"] += 1
            return original(self)

        monkeypatch.setattr(cls, "named_children", counting)
    build = tree_module.Tree.__init__

    def counting_build(self, root):
        counts["builds"] += 1
        build(self, root)

    monkeypatch.setattr(tree_module.Tree, "__init__", counting_build)
    return counts


def test_a_predict_on_an_unshared_model_does_not_walk_the_tree(walks):
    model = cnn()
    x = RNG.standard_normal((2, 1, 4, 4))
    first = mg.predict(model, x)
    assert walks["builds"] == 1  # the first use builds the flat view once
    walks.update(named_children=0, builds=0)
    for _ in range(3):
        np.testing.assert_array_equal(mg.predict(model, x), first)
    assert walks == {"named_children": 0, "builds": 0}
    assert model.training and all(layer.training for layer in model)  # modes restored


def test_training_steps_do_not_walk_the_tree(walks):
    model = cnn()
    loss, opt = mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1)
    x, y = RNG.standard_normal((5, 1, 4, 4)), RNG.integers(0, 3, 5)

    def step() -> None:
        loss(model(x), y)
        model.backward_params(loss.backward())
        model.release()
        opt.step()

    step()
    walks.update(named_children=0, builds=0)
    step()
    step()
    assert walks == {"named_children": 0, "builds": 0}


class CountedMode(mg.Identity):
    """An Identity counting the writes of its ``training`` flag."""

    writes = 0

    @property
    def training(self) -> bool:
        return vars(self).get("_training", True)

    @training.setter
    def training(self, value: bool) -> None:
        CountedMode.writes += 1
        vars(self)["_training"] = value


def test_mode_restores_each_modules_own_mode_and_sets_none_already_right():
    model = cnn()
    model[4].eval()  # a sub-module deliberately in evaluation mode
    with model.mode(training=False):
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == [True] * 5 + [False, True]
    counted = CountedMode()
    model = mg.Sequential(counted, mg.Identity()).eval()
    CountedMode.writes = 0
    with model.mode(training=False):  # all already in eval: nothing set on entry
        assert CountedMode.writes == 0
    with model.mode(training=True):
        assert counted.training and CountedMode.writes == 1
    assert not counted.training and CountedMode.writes == 2


class Stack(mg.Layer):
    """A layer holding its sub-layers in a list, run in order (for structure changes)."""

    def __init__(self, *layers: mg.Layer) -> None:
        self.blocks = list(layers)

    def forward(self, x):
        for layer in self.blocks:
            x = layer.forward(x)
        return x

    def backward(self, grad_out):
        for layer in reversed(self.blocks):
            grad_out = layer.backward(grad_out)
        return grad_out


def test_a_module_appended_to_a_list_in_place_is_seen():
    stack = Stack(mg.Dense(3, 3, rng=0))
    model = mg.Sequential(stack, mg.Identity())
    mg.predict(model, X)  # the flat view is built and cached
    stack.blocks.append(mg.Dropout(0.9, rng=0))  # in place: no attribute assignment
    out = mg.predict(model, X)  # so eval mode must reach the new Dropout
    np.testing.assert_array_equal(out, X @ stack.blocks[0].weight.data)
    assert stack.blocks[1].training
    stack.blocks[1] = mg.Dropout(0.9, rng=1)  # replaced in place, same length
    np.testing.assert_array_equal(mg.predict(model, X), out)
    model.eval()
    assert not stack.blocks[1].training


def test_an_assigned_or_deleted_child_is_seen():
    stack = Stack(mg.Dense(3, 3, rng=0))
    model = mg.Sequential(stack)
    model.eval()
    stack.extra = mg.Dropout(0.5)  # a new child, by assignment
    model.train(False)
    assert not stack.extra.training
    pending = model.stash()
    del stack.extra
    with pytest.raises(RuntimeError, match="same modules"):
        model.unstash(pending)  # taken on another tree: refused, not misapplied


def test_a_list_of_children_is_persistent_not_per_use():
    stack = Stack(mg.Dense(3, 3, rng=0))
    pending = stack.stash()
    stack.forward(X)
    stack.unstash(pending)
    assert "blocks" in vars(stack) and stack.blocks[0].cache is None


def test_copies_and_pickles_get_their_own_flat_view():
    model = cnn()
    model.eval()  # builds and caches the original's view
    twin = copy.deepcopy(model)
    twin.train()
    assert all(m.training for m in twin.modules())
    assert not any(m.training for m in model.modules())
    loaded = pickle.loads(pickle.dumps(model))
    loaded.train()
    assert all(m.training for m in loaded.modules())
    assert not any(m.training for m in model.modules())


def test_forward_assignments_do_not_invalidate_the_view(walks):
    model = cnn()
    x = RNG.standard_normal((2, 1, 4, 4))
    model.train()
    walks.update(named_children=0, builds=0)
    for _ in range(3):
        model(x)  # each layer assigns its cache: per-use state, not structure
    model.eval()
    assert walks["builds"] == 0


def test_inference_bench_smoke():
    """benchmarks/inference_bench.py runs (--quick) and prints its speed rows (each
    compared with PyTorch before it is timed) and its memory rows."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "inference_bench.py"), "--quick",
         "--rounds", "1"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1].strip() for line in done.stdout.splitlines()
            if line.startswith("| ") and "---" not in line]
    assert "digits CNN predict latency, batch 1" in rows
    assert "digits CNN predict throughput, batch 8" in rows
    assert any(row.startswith("LeNet-5 step, batch 8: peak") for row in rows)
