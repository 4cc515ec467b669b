"""A backward releases what its forward kept (issue 23): containers let go of each
layer's cache once its backward has run, a second backward through the same forward
raises (PyTorch's rule) unless inside `mg.retain_graph`, and a training step holds
nothing afterwards but parameters, gradients and optimizer state (tracemalloc)."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(0)


def lenet_like() -> mg.Sequential:
    return mg.Sequential(
        mg.Conv2D(1, 8, 3, padding=1, rng=0), mg.ReLU(), mg.MaxPool2D(2),
        mg.Conv2D(8, 8, 3, padding=1, rng=1), mg.ReLU(), mg.MaxPool2D(2),
        mg.Flatten(), mg.Dense(8 * 4 * 4, 16, bias=True, rng=2), mg.ReLU(),
        mg.Dense(16, 3, bias=True, rng=3))


class Watch(mg.Layer):
    """Identity that records, at its backward, which layers of ``model`` still hold a
    cache."""

    def __init__(self) -> None:
        self.model: Callable[[], mg.Sequential | None] = lambda: None  # not a child
        self.holding: list[int] = []

    def forward(self, x):
        self.cache = x.shape
        return x

    def backward(self, grad_out):
        self.saved()
        model = self.model()
        assert model is not None
        self.holding = [i for i, layer in enumerate(model) if layer.cache is not None]
        return grad_out


def test_each_layers_cache_goes_as_soon_as_its_backward_has_run():
    watch = Watch()
    model = mg.Sequential(mg.Dense(3, 4, rng=0), watch, mg.ReLU(), mg.Dense(4, 2, rng=1),
                          mg.Sigmoid())
    watch.model = weakref.ref(model)
    model.backward(model(RNG.standard_normal((5, 3))))
    assert watch.holding == [0, 1]  # layers 2-4 had run backward: released before this one
    assert all(layer.cache is None for layer in model)  # and all of them afterwards


def test_backward_params_releases_the_layers_whose_backward_is_skipped_too():
    model = mg.Sequential(mg.Flatten(), mg.Dense(6, 2, rng=0), mg.ReLU())
    model(RNG.standard_normal((4, 2, 3)))
    model.backward_params(np.ones((4, 2)))
    assert all(layer.cache is None for layer in model)


def _held_arrays(stash: object) -> list[np.ndarray]:
    """The arrays in the per-module states of a `Module.stash`."""
    states = stash.states  # type: ignore[attr-defined]
    return [v for state in states for v in state.values() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("call", ["backward_params", "release"])
def test_a_container_whose_backward_is_skipped_lets_go_of_its_shared_uses_caches(call):
    # A shared layer's cache of each use waits in its container's stash slots. A
    # parameter-free container in front of the first trainable layer has no backward
    # under backward_params (and none at all before a plain release): its slots must
    # go with the release that stands in for that backward.
    act = mg.ReLU()
    inner = mg.Sequential(act, act)
    model = mg.Sequential(inner, mg.Dense(4, 2, rng=0))
    model(RNG.standard_normal((3, 4)))
    assert inner._stashes is not None and all(_held_arrays(s) for s in inner._stashes)
    if call == "backward_params":
        model.backward_params(np.ones((3, 2)))
    else:
        model.release()
    assert all(not _held_arrays(s) for s in inner._stashes)
    with pytest.raises(RuntimeError, match="second time"):  # released, not forgotten
        model.backward(np.ones((3, 2)))


class _Wrapper(mg.Layer):
    """A root that is no container (`fit` then calls its `release` after the step),
    whose parameter-free body's backward is skipped."""

    def __init__(self) -> None:
        act = mg.ReLU()
        self.body = mg.Sequential(act, act)
        self.head = mg.Dense(4, 2, rng=0)

    def forward(self, x):
        return self.head.forward(self.body.forward(x))

    def backward(self, grad_out):
        return self.body.backward(self.head.backward(grad_out))

    def backward_params(self, grad_out):
        self.head.backward_params(grad_out)


def test_release_of_a_root_that_is_no_container_lets_go_of_the_shared_uses_caches():
    model = _Wrapper()
    model(RNG.standard_normal((3, 4)))
    model.backward_params(np.ones((3, 2)))
    model.release()  # what fit does for a root whose backward releases nothing itself
    assert model.body._stashes is not None
    assert all(not _held_arrays(s) for s in model.body._stashes)


@pytest.mark.parametrize("shared", [False, True])
def test_a_second_backward_through_one_forward_raises_unless_retained(shared):
    dense = mg.Dense(3, 3, rng=0)
    model = (mg.Sequential(dense, mg.Tanh(), dense) if shared
             else mg.Sequential(dense, mg.Tanh(), mg.Dense(3, 3, rng=1)))
    x, g = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    model(x)
    model.zero_grad()
    with mg.retain_graph():
        first = model.backward(g)
        once = dense.weight.grad.copy()
        np.testing.assert_array_equal(model.backward(g), first)  # the same forward again
    np.testing.assert_allclose(dense.weight.grad, 2 * once)  # its gradients added twice
    model.backward(g)  # outside the block: this one releases
    with pytest.raises(RuntimeError, match=r"at Sequential\[2\]: .*second time.*retain_graph"):
        model.backward(g)
    model(x)  # a new forward: backward works again
    np.testing.assert_array_equal(model.backward(g), first)


def test_a_graph_releases_and_refuses_a_second_backward():
    graph = mg.Graph({"fc": (mg.Dense(3, 3, rng=0), "input"), "act": (mg.ReLU(), "fc"),
                      "out": (mg.Add(), ("input", "act"))})
    graph(RNG.standard_normal((2, 3)))
    graph.backward(np.ones((2, 3)))
    assert all(layer.cache is None for layer in graph.nodes.values())
    with pytest.raises(RuntimeError, match=r"at Graph\['out'\].*second time"):
        graph.backward(np.ones((2, 3)))


class Residual(mg.Layer):
    """x + act(fc(x)), with its sub-layers called directly (not a container)."""

    def __init__(self) -> None:
        self.fc, self.act = mg.Dense(3, 3, rng=0), mg.Tanh()

    def forward(self, x):
        return x + self.act(self.fc(x))

    def backward(self, grad_out):
        return grad_out + self.fc.backward(self.act.backward(grad_out))


def test_a_layers_sub_layers_are_released_with_it():
    block = Residual()
    model = mg.Sequential(block, mg.Identity())
    model(RNG.standard_normal((2, 3)))
    model.backward(np.ones((2, 3)))
    assert block.fc.cache is None and block.act.cache is None


def test_predict_between_forward_and_backward_keeps_the_pending_backward():
    model = lenet_like()
    x, g = RNG.standard_normal((3, 1, 16, 16)), RNG.standard_normal((3, 3))
    model(x)
    with mg.retain_graph():
        want = model.backward(g)
    mg.predict(model, RNG.standard_normal((5, 1, 16, 16)))
    np.testing.assert_array_equal(model.backward(g), want)


def test_after_a_fit_step_only_parameters_gradients_and_optimizer_state_are_held():
    model = lenet_like()
    X = RNG.standard_normal((64, 1, 16, 16))
    y = RNG.integers(0, 3, 64)
    optimizer = mg.Adam(model.parameters(), lr=1e-3)
    held: list[int] = []

    class Measure(mg.Callback):
        def on_train_batch_end(self, batch, logs):
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])

    # One forward keeps ~0.8 MB here (the layers' inputs, masks, pooling's choices); the
    # batch is 64 KB; parameters, gradients and Adam's two moments ~40 KB in all.
    model(X[:32])  # untraced: what a first forward imports
    model.clear_cache()
    tracemalloc.start()
    try:
        out = model(X[:32])
        kept = tracemalloc.get_traced_memory()[0] - out.nbytes
    finally:
        tracemalloc.stop()
    model.clear_cache()
    # A first fit imports what fit imports on first use (the lazily loaded families: their
    # code stays, as any import's does) and builds the model's cached tree.
    mg.fit(model, mg.CrossEntropyLoss(), optimizer, X[:32], y[:32], epochs=1, batch_size=32,
           progress=False, rng=0)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        mg.fit(model, mg.CrossEntropyLoss(), optimizer, X, y, epochs=1, batch_size=32,
               callbacks=[Measure()], progress=False, rng=0)
    finally:
        tracemalloc.stop()
    state = sum(p.data.nbytes for p in model.parameters())  # each of: grads, Adam's m, v
    batch = X[:32].nbytes + y[:32].nbytes
    assert kept > 400_000  # what the old rule (dropped by the next forward) kept
    for after_step in held:  # the first step allocates Adam's state; both hold no caches
        assert after_step - base < 3 * state + 2 * batch + 64_000, (after_step - base, state)


@pytest.mark.parametrize("training", [True, False])
def test_a_conv_keeps_its_input_not_its_column_buffer(training):
    """As PyTorch keeps the input, not 9× it: backward rebuilds the columns."""
    conv = mg.Conv2D(2, 3, 3, padding=1, rng=0)
    x, g = RNG.standard_normal((2, 2, 5, 5)), RNG.standard_normal((2, 3, 5, 5))
    with mg.retain_graph():
        want = conv(x), conv.backward(g)
    conv.zero_grad()
    conv.train(training)
    y = conv(x)
    assert conv.cache[0] is None and conv.cache[3] is x
    np.testing.assert_array_equal(y, want[0])
    np.testing.assert_array_equal(conv.backward(g), want[1])  # rebuilt from the input


def test_a_model_whose_tree_was_cached_is_freed_with_its_last_reference():
    """The table of cached trees (`minigrad.core.tree`) holds no model alive: a model
    built, trained, predicted with, then dropped is freed -- its layers and arrays too."""
    from minigrad.core import tree

    model = lenet_like()
    X, y = RNG.standard_normal((8, 1, 16, 16)), RNG.integers(0, 3, 8)
    mg.fit(model, mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
           batch_size=4, progress=False, rng=0)
    mg.predict(model, X)
    with model.mode(training=False):
        pass
    gone = [weakref.ref(module) for module in model.modules()]
    entries = len(tree._TREES)
    assert entries >= 1
    del model
    gc.collect()
    assert all(ref() is None for ref in gone)
    assert len(tree._TREES) < entries  # the entries went with their roots


@pytest.mark.parametrize("call", ["backward", "backward_params"])
def test_a_backward_restores_each_shared_use_once(call, monkeypatch):
    # After a use's backward its release lets the caches go; it must not restore and
    # stash the uses inside again (their own backward already released their slots):
    # each restore copies every module's state back, a cost per use and step.
    from minigrad.core.tree import Tree

    cell = mg.Sequential(mg.Dense(4, 4, rng=0), mg.Tanh())
    model = mg.Sequential(mg.Dense(4, 4, rng=1), mg.Sequential(*[cell] * 3))
    model(RNG.standard_normal((2, 4)))
    restores: list[object] = []
    original = Tree.restore
    monkeypatch.setattr(Tree, "restore", lambda *a: restores.append(a) or original(*a))
    getattr(model, call)(np.ones((2, 4)))
    assert len(restores) == 4  # the inner Sequential's one use (it shares), cell's three
    assert not any(_held_arrays(s) for s in model[1]._stashes)


@pytest.mark.parametrize("shared", [False, True])
def test_a_layer_that_is_no_container_lets_go_of_the_slots_its_backward_params_skipped(shared):
    # A `_Wrapper` inside a container is a shared use (its body shares a layer): after
    # its backward_params, which skips the body, its release must empty the body's slots.
    wrapper = _Wrapper()
    model = mg.Sequential(wrapper, *((mg.Dense(2, 4, rng=1), wrapper) if shared else ()))
    model(RNG.standard_normal((3, 4)))
    model.backward_params(np.ones((3, 2)))
    assert all(not _held_arrays(s) for s in wrapper.body._stashes)


class _Keeps(mg.Layer):
    """A parameter-free layer that keeps its input as an ordinary attribute too."""

    def forward(self, x):
        self.x = x
        self.cache = x
        return x

    def backward(self, grad_out):
        self.saved()
        return grad_out


def test_a_skipped_shared_use_keeps_its_own_attributes_in_its_slot():
    keeps = _Keeps()
    model = mg.Sequential(keeps, mg.Dense(4, 4, rng=0), keeps)
    first = RNG.standard_normal((2, 4))
    model(first)
    second = model._stashes[2].states[0]["x"]  # the Dense's output
    model.backward_params(np.ones((2, 4)))
    assert model._stashes[0].states[0]["x"] is first  # position 0's own input, not 2's
    assert model._stashes[2].states[0]["x"] is second
    assert all(s.states[0]["cache"] is None for s in model._stashes[::2])


def test_a_release_after_the_shared_layers_modules_changed_does_not_raise():
    act = mg.ReLU()
    model = mg.Sequential(mg.Sequential(act, act), mg.Dense(4, 2, rng=0))
    model(RNG.standard_normal((3, 4)))
    act.extra = mg.Identity()  # a new module in the shared layer's tree
    model.release()
    assert model[0]._stashes == [None, None]
