"""The blog-net step's shortcuts (issue 23, "speed"): what they must not change.

`Sequential` keeps two release plans (outside and inside `mg.retain_graph`) and the
split `backward_params` takes; `Module.__setattr__` writes a plain cache straight into
the instance's ``__dict__`` (unless a class made ``cache`` a property); `sigmoid`'s
overflow check reads the entry at ``argmin``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.core.tree import tree_of


class _OwnRelease(mg.Identity):
    """An Identity that counts its releases, retained or not (it overrides release)."""

    calls = 0

    def release(self) -> None:
        self.calls += 1
        super().release()


class _CountingBackward(mg.Identity):
    """An Identity that counts its backward passes."""

    calls = 0

    def backward(self, grad_out: Any) -> Any:
        self.calls += 1
        return super().backward(grad_out)


class _CacheProperty(mg.Layer):
    """A layer whose ``cache`` is a property over another attribute."""

    def __init__(self) -> None:
        self.kept: Any = None

    @property  # type: ignore[override]
    def cache(self) -> Any:
        return self.kept

    @cache.setter
    def cache(self, value: Any) -> None:
        self.kept = value

    def forward(self, x: Any) -> Any:
        self.cache = 2.0 * x
        return self.cache

    def backward(self, grad_out: Any) -> Any:
        return 2.0 * grad_out + 0.0 * self.saved()


def test_a_layers_own_release_runs_inside_retain_graph_and_the_caches_stay() -> None:
    own = _OwnRelease()
    model = mg.Sequential(mg.Dense(2, 2, rng=0), own, mg.Sigmoid())
    model(np.ones((3, 2)))
    with mg.retain_graph():
        first = model.backward(np.ones((3, 2)))
        np.testing.assert_array_equal(model.backward(np.ones((3, 2))), first)
        model.backward_params(np.ones((3, 2)))
    assert own.calls == 3
    assert all(layer.cache is not None for layer in model)
    model.backward_params(np.ones((3, 2)))  # outside: released, own release once more
    assert own.calls == 4
    assert all(layer.cache is None for layer in model)
    with pytest.raises(RuntimeError, match=r"at Sequential\[2\]: .*second time"):
        model.backward(np.ones((3, 2)))


def test_backward_params_follows_a_first_trainable_layer_that_moves() -> None:
    front, middle, dense = mg.Identity(), _CountingBackward(), mg.Dense(2, 2, rng=0)
    model = mg.Sequential(front, middle, dense)
    x, g = np.random.default_rng(0).standard_normal((4, 2)), np.ones((4, 2))
    model(x)
    model.backward_params(g)  # down to the Dense only: the layers in front are skipped
    assert middle.calls == 0 and all(layer.cache is None for layer in model)
    front.scale = mg.Parameter(np.ones(1), name="scale")  # type: ignore[attr-defined]
    assert [p.name for p in model.parameters()] == ["scale", "weight"]  # the walk re-finds
    model(x)
    model.backward_params(g)  # now down to position 0: through the middle layer
    assert middle.calls == 1 and all(layer.cache is None for layer in model)
    del front.scale  # type: ignore[attr-defined]
    assert [p.name for p in model.parameters()] == ["weight"]
    model(x)
    model.backward_params(g)  # the Dense only again
    assert middle.calls == 1 and all(layer.cache is None for layer in model)


def test_a_cache_property_is_still_used_and_released() -> None:
    layer = _CacheProperty()
    assert not layer._cache_in_dict and mg.Dense(1, 1)._cache_in_dict
    model = mg.Sequential(layer, mg.Identity())
    y = model(np.ones((2, 3)))
    np.testing.assert_array_equal(layer.kept, y)
    assert "cache" not in vars(layer)
    np.testing.assert_array_equal(model.backward(np.ones((2, 3))), np.full((2, 3), 2.0))
    assert layer.kept is None  # the property's setter saw the release
    with pytest.raises(RuntimeError, match="second time"):
        model.backward(np.ones((2, 3)))


def test_a_cache_holding_a_module_still_changes_the_structure() -> None:
    holder = mg.Identity()
    inner = mg.Dense(2, 2, rng=0)
    holder.cache = inner  # type: ignore[assignment]  # a member: part of the tree
    model = mg.Sequential(holder)
    assert inner in tree_of(model).modules
    holder.cache = (np.ones(1).shape, np.dtype(np.float64))  # type: ignore[assignment]
    assert inner not in tree_of(model).modules  # replacing it made a new tree


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_check_sees_a_nan_anywhere_and_the_extremes(dtype: Any) -> None:
    x = np.array([[0.5, -3.0, np.nan, 2.0], [-1e4, 40.0, -700.0, 0.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from either form
        y = backend.sigmoid(x)
    assert y.dtype == dtype
    assert np.isnan(y[0, 2]) and np.isfinite(np.delete(y.ravel(), 2)).all()
    finite = x.copy()
    finite[0, 2] = 0.25
    stable = np.exp(np.minimum(finite, 0)) / (1 + np.exp(-np.abs(finite)))  # the general form
    mask = ~np.isnan(x)
    np.testing.assert_array_equal(y[mask], stable[mask])
    assert y[1, 0] == 0.0
    if dtype == np.float64:
        assert 0.0 < y[1, 2] < 1e-300  # tiny values kept
    small = np.array([[-3.0, 0.5], [2.0, 1.0]], dtype=dtype)  # no extreme: the textbook form
    np.testing.assert_array_equal(backend.sigmoid(small), (1.0 / (1.0 + np.exp(-small))))
    # A NaN alone (no extreme value beside it) picks the stable form too: at -5 the two
    # forms round differently, so this tells them apart.
    lone = np.array([[-5.0, np.nan]], dtype=dtype)
    textbook = 1.0 / (1.0 + np.exp(-lone[0, 0]))
    general = np.exp(lone[0, 0]) / (1.0 + np.exp(lone[0, 0]))
    assert textbook != general
    assert backend.sigmoid(lone)[0, 0] == general
