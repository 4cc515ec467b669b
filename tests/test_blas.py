"""The optimizers' fused BLAS path (`minigrad.blas`): it is found on NumPy's wheels, it
computes what the ufunc path computes, it refuses arrays it must not touch, and the
optimizers on it still follow torch.optim."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import blas
from minigrad.kernels import update_kernels

SIZE = blas.MIN_SIZE + 7  # large enough for BLAS, and not a multiple of a vector width


def test_numpys_own_openblas_is_found_when_numpy_ships_it():
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    if config.get("name") != "scipy-openblas" or "USE64BITINT" not in str(
            config.get("openblas configuration")):
        pytest.skip("this NumPy is not built with scipy-openblas64; the ufuncs run")
    assert blas.routines() is not None, "NumPy's OpenBLAS is there, but was not loaded"


needs_blas = pytest.mark.skipif(blas.routines() is None, reason="no BLAS routines here")


def arrays(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(SIZE).astype(dtype) + 2 for _ in range(3)]


UPDATES = {
    "add_": lambda k, a, x, y, t: k.add_(a, x, -0.3, t),
    "scale_add_": lambda k, a, x, y, t: k.scale_add_(a, x, 1.0, 0.9, t),
    "lerp_": lambda k, a, x, y, t: k.lerp_(a, x, 0.1, t),
    "addcmul_ with beta": lambda k, a, x, y, t: k.addcmul_(a, x, y, 0.001, t, beta=0.999),
    "addcmul_": lambda k, a, x, y, t: k.addcmul_(a, x, y, 0.5, t),
    "addcdiv_": lambda k, a, x, y, t: k.addcdiv_(a, x, y, -0.01, t),
}


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("update", UPDATES.values(), ids=UPDATES.keys())
def test_the_fused_path_computes_what_the_ufuncs_compute(update, dtype, monkeypatch):
    k = update_kernels(np.zeros(1))
    fused_a, x, y = arrays(dtype)
    plain_a = fused_a.copy()
    calls = []
    for name in ("axpy", "axpby"):  # count the BLAS calls: the fused path must be taken
        routine = getattr(blas.Routines, name)
        monkeypatch.setattr(blas.Routines, name,
                            lambda self, *args, routine=routine: (calls.append(1),
                                                                  routine(self, *args)))
    update(k, fused_a, x, y, np.empty_like(x))
    assert calls, "the update did not go to BLAS"
    monkeypatch.setattr(blas, "routines", lambda: None)
    update(k, plain_a, x, y, np.empty_like(x))
    assert fused_a.dtype == dtype
    assert not np.array_equal(plain_a, arrays(dtype)[0])  # it did update
    eps = np.finfo(dtype).eps  # a few roundings apart, on values of order 1-10
    np.testing.assert_allclose(fused_a, plain_a, rtol=4 * eps, atol=32 * eps)


class _Subclass(np.ndarray):
    """An ndarray subclass, which may override what BLAS would bypass."""


@needs_blas
def test_fused_refuses_what_blas_must_not_touch():
    y, x = np.ones(SIZE), np.ones(SIZE)
    assert blas.fused(y, x) is blas.routines()
    assert blas.fused(y, y) is blas.routines()  # the same array: elementwise, fine
    read_only = np.ones(SIZE)
    read_only.flags.writeable = False
    wide = np.ones(2 * SIZE)
    refused = {
        "small": (np.ones(blas.MIN_SIZE - 1), np.ones(blas.MIN_SIZE - 1)),
        "dtypes differ": (y, x.astype(np.float32)),
        "integers": (np.ones(SIZE, np.int64), np.ones(SIZE, np.int64)),
        "float16": (np.ones(SIZE, np.float16), np.ones(SIZE, np.float16)),
        "shapes differ": (y, np.ones((1, SIZE))),
        "strided": (y, wide[::2]),
        "read-only": (read_only, x),
        "overlapping": (wide[1:SIZE + 1], wide[:SIZE]),
        "not NumPy": (y, list(x)),
        "a subclass": (np.ones(SIZE).view(_Subclass), x),
        "misaligned": (y, np.zeros(8 * SIZE + 1, np.uint8)[1:].view(np.float64)),
    }
    for name, (target, source) in refused.items():
        assert blas.fused(target, source) is None, name
    assert blas.fused(y, x, 0.5, 0.0) is None  # a zero coefficient: BLAS would skip its term


@needs_blas
@pytest.mark.parametrize(("name", "settings"), [
    ("SGD", {"lr": 0.0}), ("SGD", {"lr": 0.0, "momentum": 0.9}), ("Adam", {"lr": 0.0}),
    ("Adam", {"betas": (0.0, 0.999)}), ("RMSprop", {"alpha": 0.0}),
])
def test_a_nan_gradient_is_never_dropped_by_a_zero_coefficient(name, settings):
    """0 · NaN is NaN, as on the ufunc path and in PyTorch; BLAS would skip the term."""
    torch = pytest.importorskip("torch")
    param = mg.Parameter(np.ones(SIZE), name="w")
    param.grad[...] = 1.0
    param.grad[0] = np.nan
    tparam = torch.ones(SIZE, dtype=torch.float64, requires_grad=True)
    tparam.grad = torch.tensor(param.grad)
    getattr(mg, name)([param], **settings).step()
    getattr(torch.optim, name)([tparam], **settings).step()
    np.testing.assert_array_equal(np.isnan(param.data), np.isnan(tparam.detach().numpy()))
    assert np.isnan(param.data[0]) == bool(torch.isnan(tparam[0]))


@needs_blas
def test_a_strided_parameter_still_updates_correctly():
    base = np.zeros((SIZE, 2))
    param = mg.Parameter(base[:, 0], name="w")  # a column: not contiguous, no BLAS
    param.grad[...] = 1.0
    opt = mg.SGD([param], lr=0.5, momentum=0.9)
    opt.step()
    opt.step()
    np.testing.assert_allclose(param.data, -0.5 - 0.5 * 1.9)
    assert np.all(base[:, 1] == 0)


FUSED_OPTIMIZERS = {
    "SGD momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "SGD nesterov+wd": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True,
                                "weight_decay": 0.01}),
    "Adam": ("Adam", {"lr": 0.01}),
    "AdamW amsgrad": ("AdamW", {"lr": 0.01, "amsgrad": True}),
    "RMSprop centered momentum": ("RMSprop", {"lr": 0.001, "momentum": 0.5,
                                              "centered": True}),
    "Adagrad": ("Adagrad", {"lr": 0.01}),
}


@needs_blas
@pytest.mark.parametrize(("name", "settings"), FUSED_OPTIMIZERS.values(),
                         ids=FUSED_OPTIMIZERS.keys())
def test_optimizers_on_the_fused_path_follow_torch(name, settings):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    start = rng.standard_normal((SIZE,))
    param = mg.Parameter(start.copy(), name="w")
    tparam = torch.tensor(start, requires_grad=True)
    opt = getattr(mg, name)([param], **settings)
    topt = getattr(torch.optim, name)([tparam], **settings)
    for _ in range(30):
        grad = param.data + 0.1 * param.data**3 + rng.standard_normal(SIZE)
        param.grad[...] = grad
        tparam.grad = torch.tensor(grad)
        opt.step()
        topt.step()
    np.testing.assert_allclose(param.data, tparam.detach().numpy(), rtol=1e-10, atol=1e-12)
