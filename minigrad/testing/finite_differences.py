"""Gradients against central finite differences: `numerical_gradient`, `assert_close`,
`gradcheck`, and `check_tensor` (the directional check behind `check_layer`).

`minigrad.testing.layer_contract` re-exports the public three; this needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from minigrad.core import Array


def numerical_gradient(value: Callable[[], float], x: Array, eps: float = 1e-6) -> Array:
    """Central differences ``(f(x + ε·e_i) − f(x − ε·e_i)) / 2ε`` for every element of
    ``x``, which is perturbed *in place* (and restored) while ``value()`` is called.

    Returns
    -------
    ndarray, float64, shape of ``x``
        The estimated d(value)/dx.

    Raises
    ------
    ValueError
        ``x`` is not C-contiguous (it could not be perturbed through a flat view).
    """
    if not x.flags.c_contiguous:
        raise ValueError("numerical_gradient needs a C-contiguous array to perturb in place")
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)  # views: writes reach x and grad
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = value()
        flat[i] = original - eps
        minus = value()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def assert_close(
    what: str, analytic: Array, numeric: Array, *, rtol: float, atol: float
) -> None:
    """Raise `AssertionError` describing the worst element where the two differ."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(
            f"{what}: analytic gradient has shape {analytic.shape}, expected {numeric.shape}"
        )
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if not np.all(np.isfinite(analytic)) or excess.max(initial=-np.inf) > 0:
        worst = np.unravel_index(np.nanargmax(np.where(np.isfinite(excess), excess, np.inf)),
                                 excess.shape)
        index = tuple(int(i) for i in worst)
        raise AssertionError(
            f"{what}: analytic and numeric gradients differ; worst at index {index}: "
            f"analytic {analytic[worst]:.6g}, numeric {numeric[worst]:.6g} "
            f"(rtol={rtol}, atol={atol})"
        )


def gradcheck(
    fn: Callable[..., tuple[float, Sequence[Array]]],
    *inputs: Array,
    names: Sequence[str] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    eps: float = 1e-6,
) -> None:
    """Check ``fn``'s analytic gradients against central finite differences.

    ``fn(*inputs)`` returns ``(value, grads)``: a scalar and d(value)/d(input) for each
    input. The inputs must be float64 arrays; they are perturbed in place one element
    at a time (and restored), so ``fn`` may also read them through other references.
    Passes when ``|analytic − numeric| <= atol + rtol · |numeric|`` everywhere.

    Raises
    ------
    TypeError
        An input that is not float64 (finite differences need its precision).
    AssertionError
        ``fn`` returned another number of gradients than inputs, a gradient of the
        wrong shape or not finite, or one off by more than the tolerance (naming the
        input and the worst index).

    Examples
    --------
    >>> import numpy as np
    >>> gradcheck(lambda x: (float(np.sum(x**3)), [3 * x**2]), np.array([1.0, -2.0]))
    """
    names = list(names) if names is not None else [f"input {i}" for i in range(len(inputs))]
    for name, x in zip(names, inputs):
        if x.dtype != np.float64:
            raise TypeError(f"gradcheck: {name} must be float64 for finite differences, "
                            f"got {x.dtype}")
    _, analytic = fn(*inputs)
    analytic = [np.array(g, dtype=np.float64) for g in analytic]  # copies: fn may reuse
    if len(analytic) != len(inputs):
        raise AssertionError(
            f"gradcheck: fn returned {len(analytic)} gradients for {len(inputs)} inputs"
        )
    for name, x, grad in zip(names, inputs, analytic):
        numeric = numerical_gradient(lambda: fn(*inputs)[0], x, eps)
        assert_close(f"gradient of {name}", grad, numeric, rtol=rtol, atol=atol)


_EPS = 1e-6  # finite-difference step
_FULL_LIMIT = 4096  # a tensor up to this size that fails is re-checked element by element


def check_tensor(
    what: str, x: Array, analytic: Array, value: Callable[[], tuple[float, float]],
    rng: np.random.Generator, rtol: float, atol: float,
) -> None:
    """Check ``analytic`` = d(value)/dx for the float64 array ``x`` (perturbed in place,
    restored): along two random directions, ``<g, d>`` against ``(f(x + εd) − f(x − εd))
    / 2ε`` (Chainer's ``check_backward``), and at three coordinates, the largest |g|
    among them. A failing tensor of up to `_FULL_LIMIT` elements is then compared element
    by element, to name the worst index.

    The tolerance along ``d`` is what the elementwise one, ``atol + rtol·|g_i|``, implies
    for the sum: ``Σ |d_i| (atol + rtol·|g_i|)``, plus the rounding error of ``f``."""
    if analytic.shape != x.shape:
        raise AssertionError(f"{what}: analytic gradient has shape {analytic.shape}, "
                             f"expected {x.shape}")
    if x.size == 0:
        return
    original = x.copy()
    flat = analytic.reshape(-1)

    def derivative(direction: Array) -> tuple[float, float]:
        """The central difference along ``direction``, and its rounding error bound."""
        np.add(original, _EPS * direction, out=x)
        plus, size_plus = value()
        np.subtract(original, _EPS * direction, out=x)
        minus, size_minus = value()
        x[...] = original
        rounding = 8 * np.finfo(np.float64).eps * max(size_plus, size_minus) / _EPS
        return (plus - minus) / (2 * _EPS), rounding

    failure = None if np.all(np.isfinite(analytic)) else "a gradient that is not finite"
    for _ in range(2 if failure is None else 0):
        direction = rng.standard_normal(x.shape)
        numeric, rounding = derivative(direction)
        along = float(np.sum(analytic * direction))
        bound = float(np.sum(np.abs(direction) * (atol + rtol * np.abs(analytic))))
        if not abs(along - numeric) <= bound + rounding:
            failure = (f"along a random direction: analytic {along:.6g}, numeric "
                       f"{numeric:.6g}")
            break
    picks = {int(np.argmax(np.abs(flat)))} | set(rng.choice(flat.size, 2).tolist())
    for index in sorted(picks) if failure is None else ():
        direction = np.zeros(x.shape)
        direction.reshape(-1)[index] = 1.0
        numeric, rounding = derivative(direction)
        if not abs(flat[index] - numeric) <= atol + rtol * abs(numeric) + rounding:
            where = tuple(int(i) for i in np.unravel_index(index, x.shape))
            failure = (f"at index {where}: analytic {flat[index]:.6g}, numeric "
                       f"{numeric:.6g}")
            break
    if failure is None:
        return
    if x.size <= _FULL_LIMIT:  # a precise report: the worst element
        numeric_all = numerical_gradient(lambda: value()[0], x, _EPS)
        assert_close(what, analytic, numeric_all, rtol=rtol, atol=atol)
        return  # elementwise within tolerance: the directional miss was rounding
    raise AssertionError(f"{what}: analytic and numeric gradients differ {failure} "
                         f"(rtol={rtol}, atol={atol})")
