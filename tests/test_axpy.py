"""The optimizers' BLAS fast path, `backend.updates.axpy` (SciPy's public BLAS wrappers):
taken where it applies, equal to the ufuncs, refused where it would be wrong."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import updates

SIZE = updates.AXPY_MIN_SIZE + 7  # large enough for BLAS, not a multiple of a vector width


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_computes_y_plus_alpha_x_in_place(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, SIZE // 7, 7)).astype(dtype)
    scaled = np.asarray(-0.3, dtype) * x
    expected, scale = y + scaled, np.abs(y) + np.abs(scaled)
    view = y  # references held elsewhere stay valid: written in place
    assert updates.axpy(y, x, -0.3)
    assert view is y
    # within rounding of each term (a fused multiply-add may round once, not twice)
    assert np.all(np.abs(y - expected) <= 2 * np.finfo(dtype).eps * scale)


def test_axpy_declines_what_it_cannot_do_and_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    big = rng.standard_normal(SIZE)
    readonly = big.copy()
    readonly.flags.writeable = False
    cases = {
        "a zero coefficient (BLAS may skip it, dropping NaN)": (big.copy(), big, 0.0),
        "small": (np.ones(8), np.ones(8), 2.0),
        "not contiguous": (np.ones(2 * SIZE)[::2], big, 2.0),
        "dtypes differ": (big.copy(), big.astype(np.float32), 2.0),
        "integers": (np.ones(SIZE, np.int64), np.ones(SIZE, np.int64), 2.0),
        "read-only": (readonly, big, 2.0),
        "shapes differ": (big.copy(), big[:-1], 2.0),
    }
    for name, (y, x, alpha) in cases.items():
        before = y.copy()
        assert not updates.axpy(y, x, alpha), name
        np.testing.assert_array_equal(y, before, err_msg=name)


def test_sgd_takes_the_blas_path_on_large_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = updates.axpy
    monkeypatch.setattr(updates, "axpy", lambda y, x, a: calls.append(a) or real(y, x, a))
    w = mg.Parameter(np.ones(SIZE))
    w.grad[...] = 1.0
    mg.SGD([w], lr=0.5, momentum=0.9).step()
    assert calls == [-0.5]
    np.testing.assert_array_equal(w.data, np.full(SIZE, 0.5))


def test_a_nan_gradient_survives_a_zero_learning_rate() -> None:
    w = mg.Parameter(np.ones(SIZE))
    w.grad[...] = 1.0
    w.grad[3] = np.nan
    mg.SGD([w], lr=0.0).step()
    assert np.isnan(w.data[3]) and np.isfinite(np.delete(w.data, 3)).all()


def test_large_steps_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    start = rng.standard_normal(SIZE)
    grads = rng.standard_normal((10, SIZE))
    for make, make_torch in [
        (lambda p: mg.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2)),
        (lambda p: mg.Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    ]:
        w = mg.Parameter(start.copy())
        t = torch.tensor(start, requires_grad=True)
        opt, ref = make([w]), make_torch([t])
        for g in grads:
            w.grad[...] = g
            t.grad = torch.tensor(g)
            opt.step()
            ref.step()
        np.testing.assert_allclose(w.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
