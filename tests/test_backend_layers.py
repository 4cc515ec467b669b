"""Every built-in layer computes the same on every array library as on NumPy.

For each entry of `BUILTINS` (the layer-contract table) and each library of
`tests.backends.LIBRARIES`: a copy of the layer is moved there with ``Module.to``, run
forward and backward on the same inputs and upstream gradient as the NumPy original,
and its output, input gradients, parameter gradients and buffers (BatchNorm's running
statistics) must equal NumPy's (float64: 1e-12) -- and come back in the library they
went in as. The layers of integer ids (`ID_BUILTINS`) take their ids in the library,
with each integer dtype.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, expected_module, get, library, namespace_name, put
from tests.test_builtin_contract import BUILTINS, ID_BUILTINS

ON_EVERY_LIBRARY = list(BUILTINS)
IDS_ON_EVERY_LIBRARY = list(ID_BUILTINS)
OTHER_LIBRARIES = [name for name in LIBRARIES if name != "numpy"]


def run(layer: mg.Module, inputs: list[np.ndarray], grad_out: np.ndarray | None, lib) -> tuple:
    moved = [put(x, lib) for x in inputs]
    y = layer(*moved)
    assert namespace_name(y) == expected_module(lib), "library in, library out"
    g = put(grad_out if grad_out is not None else np.ones(get(y).shape), lib)
    layer.zero_grad()
    grads = layer.backward(g)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return get(y), [get(gi) for gi in grads], [
        *(get(p.grad) for p in layer.parameters()), *(get(b.data) for b in layer.buffers())]


def assert_same(got: tuple, want: tuple) -> None:
    (y, gx, gp), (y_ref, gx_ref, gp_ref) = got, want
    tol = 1e-5 if y_ref.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    for got_i, want_i in zip([*gx, *gp], [*gx_ref, *gp_ref], strict=True):
        np.testing.assert_allclose(got_i, want_i, rtol=tol, atol=tol)
    assert y.dtype == y_ref.dtype


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
@pytest.mark.parametrize("name", ON_EVERY_LIBRARY)
def test_builtin_matches_numpy_on_every_library(name: str, lib_name: str) -> None:
    lib = library(lib_name)
    factory, shapes = BUILTINS[name]
    rng = np.random.default_rng(len(name))
    inputs = [2 * rng.standard_normal(shape) for shape in shapes]
    reference = factory()
    moved = copy.deepcopy(reference).to(lib)
    grad_out = rng.standard_normal(copy.deepcopy(reference)(*inputs).shape)
    assert_same(run(moved, inputs, grad_out, lib), run(reference, inputs, grad_out, np))


@pytest.mark.parametrize("lib_name", OTHER_LIBRARIES)
@pytest.mark.parametrize("id_dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("name", IDS_ON_EVERY_LIBRARY)
def test_builtin_of_ids_matches_numpy_on_every_library(name: str, id_dtype: type,
                                                        lib_name: str) -> None:
    lib = library(lib_name)
    factory, ids = ID_BUILTINS[name]
    ids = ids.astype(id_dtype)
    reference = factory()
    moved = copy.deepcopy(reference).to(lib)
    grad_out = np.random.default_rng(1).standard_normal(copy.deepcopy(reference)(ids).shape)
    assert_same(run(moved, [ids], grad_out, lib), run(reference, [ids], grad_out, np))
