"""`minigrad.backend.gates_into`, the recurrent cells' in-place gate nonlinearities:
σ on every row of a step's ``(G·H, N)`` pre-activations, ``tanh`` on the rows asked
for, written into the buffer -- exact to float rounding, stable at the extremes (no
warning, no NaN from an overflow), and the same on every array library."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from minigrad import backend
from tests.backends import LIBRARIES, get, library, put

H, N = 3, 5
TANH = slice(2 * H, 3 * H)  # the LSTM's candidate block g of [i f g o]


def reference(z: np.ndarray, tanh_rows: slice | None) -> np.ndarray:
    """σ through the exact identity σ(z) = (1 + tanh(z/2))/2, tanh on ``tanh_rows``."""
    out = (1.0 + np.tanh(z / 2.0)) / 2.0
    if tanh_rows is not None:
        out[tanh_rows] = np.tanh(z[tanh_rows])
    return out


@pytest.mark.parametrize("tanh_rows", [None, TANH])
def test_gates_match_sigmoid_and_tanh_in_place_on_one_step(tanh_rows: slice | None) -> None:
    rng = np.random.default_rng(0)
    steps = rng.standard_normal((3, 4 * H, N)) * 4
    before = steps.copy()
    backend.gates_into(steps, np.s_[1, ...], steps[1, ...], tanh_rows=tanh_rows)
    np.testing.assert_allclose(steps[1], reference(before[1], tanh_rows), rtol=1e-14,
                               atol=1e-15)
    np.testing.assert_array_equal(steps[[0, 2]], before[[0, 2]])  # other steps untouched


def test_gates_write_into_another_buffer_and_leave_z_alone() -> None:
    z = np.random.default_rng(1).standard_normal((4 * H, N))
    kept = z.copy()
    out = np.zeros((2, 4 * H, N))
    backend.gates_into(out, np.s_[0, ...], z, tanh_rows=TANH)
    np.testing.assert_allclose(out[0], reference(kept, TANH), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(z, kept)
    np.testing.assert_array_equal(out[1], 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gates_are_stable_at_the_extremes(dtype: type) -> None:
    big = float(np.finfo(dtype).max)
    column = np.array([-big, -1000.0, -50.0, 0.0, 100.0, 1000.0, big, np.inf, -np.inf,
                       np.nan], dtype)
    z = np.tile(column[None, :], (4 * H, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        backend.gates_into(z, ..., z, tanh_rows=TANH)
    want_sigmoid = [0.0, 0.0, 1 / (1 + np.exp(50.0)), 0.5, 1.0, 1.0, 1.0, 1.0, 0.0, np.nan]
    want_tanh = [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, -1.0, np.nan]
    assert z.dtype == dtype
    for row in (0, H, 3 * H):
        np.testing.assert_allclose(z[row], np.asarray(want_sigmoid, dtype), rtol=1e-6,
                                   atol=0)  # σ(−50) ≈ 2e-22 to its last digits
    np.testing.assert_allclose(z[2 * H], np.asarray(want_tanh, dtype), rtol=0, atol=0)


def test_float32_gates_stay_within_a_few_ulp() -> None:
    got = np.random.default_rng(2).uniform(-20, 20, (4 * H, 400)).astype(np.float32)
    want = reference(got.astype(np.float64), TANH)  # of the same (rounded) inputs
    backend.gates_into(got, ..., got, tanh_rows=TANH)
    assert got.dtype == np.float32
    eps = float(np.finfo(np.float32).eps)
    sigmoid_rows = np.r_[0:2 * H, 3 * H:4 * H]
    # σ: relative error of a few ulp (also in the tail, where σ is tiny); tanh: absolute
    assert np.max(np.abs(got[sigmoid_rows] - want[sigmoid_rows]) / want[sigmoid_rows]) \
        < 4 * eps
    assert np.max(np.abs(got[TANH] - want[TANH])) < 4 * eps


@pytest.mark.parametrize("lib_name", [name for name in LIBRARIES if name != "numpy"])
@pytest.mark.parametrize("tanh_rows", [None, TANH])
def test_gates_on_other_libraries_equal_numpy(lib_name: str, tanh_rows: slice | None) -> None:
    lib = library(lib_name)
    steps = np.random.default_rng(3).standard_normal((2, 4 * H, N)) * 5
    want = steps.copy()
    backend.gates_into(want, np.s_[1, ...], want[1, ...], tanh_rows=tanh_rows)
    there = put(steps, lib)
    backend.gates_into(there, np.s_[1, ...], there[1, ...], tanh_rows=tanh_rows)
    np.testing.assert_allclose(get(there), want, rtol=1e-12, atol=1e-15)
