"""Every built-in layer computes the same on every array library as on NumPy.

For each entry of `BUILTINS` (the layer-contract table) and each library of
`tests.backends.LIBRARIES`: a copy of the layer is moved there with ``Module.to``, run
forward and backward on the same inputs and upstream gradient as the NumPy original,
and its output, input gradients and parameter gradients must equal NumPy's (float64:
1e-12) -- and come back in the library they went in as.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
from tests.backends import LIBRARIES, expected_module, get, library, namespace_name, put
from tests.test_builtin_contract import BUILTINS

# The layer classes written against the Array API so far (the port goes family by
# family); `test_every_builtin_is_ported` will hold the line once all are.
PORTED: set[type] = {
    mg.Dense, mg.Bias, mg.Identity,
    mg.Sigmoid, mg.ReLU, mg.LeakyReLU, mg.Tanh, mg.Softmax, mg.GELU, mg.SiLU, mg.Softplus,
    mg.ELU, mg.LogSoftmax, mg.Add, mg.Concat, mg.Dropout, mg.Sequential, mg.Graph,
    mg.Conv1D, mg.Conv2D, mg.ConvTranspose2D,
    mg.MaxPool1D, mg.MaxPool2D, mg.AvgPool1D, mg.AvgPool2D, mg.GlobalAvgPool2D,
    mg.Flatten, mg.Reshape,
}
ON_EVERY_LIBRARY = [name for name, (factory, _) in BUILTINS.items()
                    if type(factory()) in PORTED]


def run(layer: mg.Module, inputs: list[np.ndarray], grad_out: np.ndarray | None, lib) -> tuple:
    moved = [put(x, lib) for x in inputs]
    y = layer(*moved)
    assert namespace_name(y) == expected_module(lib), "library in, library out"
    g = put(grad_out if grad_out is not None else np.ones(get(y).shape), lib)
    layer.zero_grad()
    grads = layer.backward(g)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return get(y), [get(gi) for gi in grads], [get(p.grad) for p in layer.parameters()]


@pytest.mark.parametrize("lib_name", [name for name in LIBRARIES if name != "numpy"])
@pytest.mark.parametrize("name", ON_EVERY_LIBRARY)
def test_builtin_matches_numpy_on_every_library(name: str, lib_name: str) -> None:
    lib = library(lib_name)
    factory, shapes = BUILTINS[name]
    rng = np.random.default_rng(len(name))
    inputs = [2 * rng.standard_normal(shape) for shape in shapes]
    reference = factory()
    moved = copy.deepcopy(reference).to(lib)
    y_ref, gx_ref, gp_ref = run(reference, inputs, None, np)
    grad_out = rng.standard_normal(y_ref.shape)
    y_ref, gx_ref, gp_ref = run(reference, inputs, grad_out, np)
    y, gx, gp = run(moved, inputs, grad_out, lib)
    tol = 1e-5 if y_ref.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    for got, want in zip(gx, gx_ref):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    for got, want in zip(gp, gp_ref):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert y.dtype == y_ref.dtype
