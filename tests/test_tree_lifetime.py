"""The table of cached trees (`minigrad.core.tree`) keeps no model alive -- also one
that shares a layer between positions, whose container's plan runs `SharedUse`s that
reach back to the container -- and a model whose tree was built still copies and
pickles into one that trains as the original does."""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(0)


def shared_sequential() -> mg.Sequential:
    dense = mg.Dense(4, 4, bias=True, rng=0)
    return mg.Sequential(dense, mg.Tanh(), dense, mg.Dense(4, 2, rng=1))


def nested_shared() -> mg.Sequential:
    return mg.Sequential(mg.Dense(4, 4, rng=2), shared_sequential())


def shared_graph() -> mg.Graph:
    dense = mg.Dense(4, 4, rng=3)
    return mg.Graph({"a": (dense, "input"), "t": (mg.Tanh(), "a"), "b": (dense, "t"),
                     "out": (mg.Dense(4, 2, rng=4), "b")})


def train_a_step(model: mg.Module) -> None:
    x = RNG.standard_normal((3, 4))
    y = model(x)
    model.backward(np.ones_like(y))
    with mg.retain_graph():  # the other plan, kept beside the first
        y = model(x)
        model.backward(np.ones_like(y))
    first = next(p for p in model.parameters())
    first.requires_grad = False  # a frozen first layer: backward_params' split
    y = model(x)
    model.backward_params(np.ones_like(y))
    first.requires_grad = True


@pytest.mark.parametrize("build", [shared_sequential, nested_shared, shared_graph])
def test_a_model_with_a_shared_layer_is_freed_with_its_last_reference(build):
    model = build()
    train_a_step(model)
    mg.predict(model, RNG.standard_normal((5, 4)))
    gone = [weakref.ref(module) for module in model.modules()]
    del model
    gc.collect()
    assert [ref() for ref in gone if ref() is not None] == []


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
@pytest.mark.parametrize("build", [shared_sequential, shared_graph])
def test_a_shared_model_copied_after_its_tree_was_built_trains_as_the_original(
        build, duplicate):
    model = build()
    train_a_step(model)
    twin = duplicate(model)
    x = RNG.standard_normal((3, 4))
    for each in (model, twin):
        each.zero_grad()
        y = each(x)
        each.backward(np.ones_like(y) * y)
    for got, want in zip(twin.parameters(), model.parameters()):
        assert got is not want
        np.testing.assert_array_equal(got.grad, want.grad)
    model.zero_grad()
    y = model(x)
    want = model.backward(np.ones_like(y))
    y = model(x)
    twin(x + 1.0)  # the copy's shared uses stash into the copy's slots, not the original's
    np.testing.assert_array_equal(model.backward(np.ones_like(y)), want)


# -- a module inside itself is refused where it is assigned --------------------------------


class _Child(mg.Identity):
    """An Identity that a user gives a reference to its parent."""


@pytest.mark.parametrize("holds", ["parent", "itself", "parent in a list", "grandparent"])
def test_a_module_assigned_into_its_own_subtree_is_refused_there(holds):
    # Before, such a back-reference made every walk recurse without end (parameters,
    # state_dict: RecursionError) and a backward release layers before their turn.
    child = _Child()
    block = mg.Sequential(mg.Dense(2, 2, rng=0), child)
    model = mg.Sequential(block, mg.Dense(2, 1, rng=1))
    value = {"parent": block, "itself": child, "parent in a list": [mg.ReLU(), block],
             "grandparent": model}[holds]
    with pytest.raises(ValueError, match=r"_Child\.up: .* holds this _Child itself.*weakref"):
        child.up = value
    assert "up" not in vars(child)  # refused before it was set
    assert len(model.parameters()) == 2  # the tree is as it was, and trains
    y = model(RNG.standard_normal((3, 2)))
    model.backward(np.ones_like(y))


def test_a_parent_held_by_a_weak_reference_is_no_member_and_frees_the_model():
    child = _Child()
    model = mg.Sequential(mg.Dense(2, 2, rng=0), child)
    child.up = weakref.ref(model)  # the way the error points to
    assert child.up() is model and len(model.parameters()) == 1
    model.backward(model(RNG.standard_normal((3, 2))))
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None


class _Head(mg.Identity):
    def __init__(self, owner: mg.Module) -> None:
        self.owner = owner  # a strong back-reference, to a module still in its __init__


class _Block(mg.Sequential):
    def __init__(self) -> None:
        self.head = _Head(self)  # before Sequential.__init__ sets what named_children reads
        super().__init__(mg.Dense(2, 2, rng=0))


def test_a_back_reference_to_a_module_still_being_built_is_refused_once_it_closes_the_loop():
    with pytest.raises(ValueError, match=r"_Block\.head: .* holds this _Block itself"):
        _Block()


def test_a_module_still_being_built_may_be_referenced_from_outside_its_tree():
    registry = mg.Identity()

    class Registered(mg.Graph):
        def __init__(self) -> None:
            registry.latest = self  # no loop: the registry is not inside the graph
            super().__init__({"a": (mg.Dense(2, 2, rng=0), "input")})

    graph = Registered()
    assert registry.latest is graph
