"""Moving whole models between array libraries: ``Module.to``, mixing refused, state."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, get, library, put

FOREIGN = [name for name in LIBRARIES if name != "numpy"]


def mlp() -> mg.Sequential:
    return mg.Sequential(mg.Dense(3, 4, bias=True, rng=0), mg.Bias(), mg.Dense(5, 2, rng=1))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_to_and_back_keeps_every_value(lib_name: str) -> None:
    lib = library(lib_name)
    model = mlp()
    before = model.state_dict()
    assert model.to(lib) is model
    assert all(type(p.data).__module__.split(".")[0] == lib.__name__ for p in model.parameters())
    model.to(np)
    after = model.state_dict()
    assert all(type(p.data) is np.ndarray for p in model.parameters())
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_a_batch_of_another_library_is_refused_naming_both(lib_name: str) -> None:
    lib = library(lib_name)
    model = mlp().to(lib)
    with pytest.raises(TypeError, match=r"Dense\(3→4, bias=True\) has its parameters as "
                                        rf"{lib.__name__}\..* got an input of numpy\.ndarray"):
        model(np.ones((2, 3)))
    home = mlp()
    with pytest.raises(TypeError, match=rf"parameters as numpy\.ndarray, got an input of "
                                        rf"{lib.__name__}\."):
        home(put(np.ones((2, 3)), lib))


@pytest.mark.parametrize("lib_name", FOREIGN)
def test_state_dict_is_numpy_and_loads_into_a_moved_model(lib_name: str) -> None:
    lib = library(lib_name)
    source, target = mlp(), mg.Sequential(
        mg.Dense(3, 4, bias=True, rng=5), mg.Bias(), mg.Dense(5, 2, rng=6)).to(lib)
    weight = target[0].parameters()[0].data
    target.load_state_dict(source.state_dict())
    assert target[0].parameters()[0].data is weight  # loaded in place
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(get(target(put(x, lib))), source(x), rtol=1e-12)
    assert all(type(v) is np.ndarray for v in target.state_dict().values())


def test_to_refuses_what_is_not_an_array_library() -> None:
    with pytest.raises(TypeError, match="not an array library"):
        mlp().to(pytest)
