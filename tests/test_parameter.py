"""Parameter: private copy of its data, and the lazy zero_grad contract."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_parameter_copies_its_data_and_refuses_integers():
    source = np.ones((2, 2))
    param = mg.Parameter(source, name="w")
    param.data += 1
    assert source[0, 0] == 1
    with pytest.raises(TypeError, match="'w': dtype must be a floating dtype, got int64"):
        mg.Parameter(np.ones(2, dtype=np.int64), name="w")


def test_zero_grad_reads_as_zeros_in_the_same_array():
    param = mg.Parameter(np.ones((2, 3)))
    grad = param.grad
    grad += 5
    param.zero_grad()
    assert param.grad is grad
    np.testing.assert_array_equal(param.grad, np.zeros((2, 3)))


def test_accumulate_matmul_overwrites_after_zero_grad_and_adds_otherwise():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4)), rng.standard_normal((4, 3))
    param = mg.Parameter(np.zeros((2, 3)))
    param.grad += 7.0
    param.accumulate_matmul(a, b)  # not zeroed: adds
    np.testing.assert_allclose(param.grad, 7.0 + a @ b)
    param.zero_grad()
    param.accumulate_matmul(a, b)  # zeroed: the product alone
    np.testing.assert_allclose(param.grad, a @ b)
    param.accumulate_matmul(a, b)
    np.testing.assert_allclose(param.grad, 2 * (a @ b))


def test_a_parameter_untouched_by_backward_gets_a_zero_update():
    used, unused = mg.Parameter(np.ones((1, 1))), mg.Parameter(np.ones((1, 1)))
    used.grad += 1.0
    unused.grad += 1.0
    opt = mg.SGD([used, unused], lr=0.5)
    opt.zero_grad()
    used.accumulate_matmul(np.ones((1, 1)), np.ones((1, 1)))
    opt.step()
    np.testing.assert_array_equal(used.data, [[0.5]])
    np.testing.assert_array_equal(unused.data, [[1.0]])  # stale grad never applied


def test_assigning_grad_replaces_it():
    param = mg.Parameter(np.ones(2))
    param.zero_grad()
    param.grad = np.full(2, 3.0)
    np.testing.assert_array_equal(param.grad, [3.0, 3.0])


def test_grad_assignment_refuses_read_only_arrays_and_aliases_of_data():
    param = mg.Parameter(np.ones((2, 2)), name="w")
    frozen = np.zeros((2, 2))
    frozen.flags.writeable = False
    for bad in (frozen, param.data, np.zeros((2, 2))[:, ::1].T.copy(order="F")):
        with pytest.raises(ValueError, match="grad must be a writable C-contiguous array"):
            param.grad = bad


def test_parameter_refuses_float16_naming_it_and_the_reason():
    # In float16 Adam's eps=1e-8 rounds to 0: a zero gradient made a weight NaN at step 1.
    assert np.float16(1e-8) == 0
    with pytest.raises(TypeError, match=r"Parameter 'w': float16 is not supported, use "
                                        r"float32 or float64: .*eps=1e-8 underflows"):
        mg.Parameter(np.ones(2, dtype=np.float16), name="w")
    for dtype in (np.float32, np.float64):
        assert mg.Parameter(np.ones(2, dtype=dtype)).dtype == dtype


def test_dense_refuses_float16_at_construction():
    with pytest.raises(TypeError, match=r"^Dense: float16 is not supported, use float32"):
        mg.Dense(2, 2, dtype=np.float16)
    with pytest.raises(TypeError, match=r"^Dense: float16 is not supported"):
        mg.Dense(2, 2, dtype="e")  # the dtype's character code, too
