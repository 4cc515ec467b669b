"""The contract a layer must meet, as functions you can call from your own pytest.

* `gradcheck` compares a function's analytic gradients with central finite
  differences.
* `check_layer` runs every check a `Layer` or `MergeLayer` must pass: backward
  against finite differences for every input and every parameter (in float64), stable
  output shape and dtype, inputs and incoming gradients never mutated,
  backward-before-forward refused, one gradient per input, parameter gradients
  accumulating, float32 in -> float32 out, and a cache that can be stashed and
  restored (what weight sharing relies on).

Each failure is an `AssertionError` naming the check, the input or parameter, and the
worst mismatch. Only the base module is needed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from minigrad.base import Array, Layer, MergeLayer, Module, check_arity

__all__ = ["assert_close", "check_layer", "gradcheck", "numerical_gradient"]


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


AnyLayer: TypeAlias = "Layer[Any] | MergeLayer[Any]"


def _with_dtype(module: AnyLayer, dtype: type[np.floating[Any]]) -> AnyLayer:
    """A deep copy of ``module`` with every parameter (and its grad) cast to ``dtype``."""
    clone = copy.deepcopy(module)
    for param in clone.parameters():
        param.data = param.data.astype(dtype)
        param.grad = np.zeros_like(param.data)
    return clone


def _fail(layer: Module[Any], check: str, detail: str) -> AssertionError:
    return AssertionError(f"check_layer({layer!r}) -- {check}: {detail}")


def check_layer(
    layer: Layer[Any] | MergeLayer[Any],
    *inputs: npt.ArrayLike,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
) -> None:
    """Run the layer contract on ``layer`` with example inputs (one for a `Layer`,
    one per input for a `MergeLayer`).

    The checks, in order: backward before forward raises; forward leaves its inputs
    alone and gives a stable output shape and dtype; backward leaves its incoming
    gradient alone and returns one gradient per input; every input's and parameter's
    gradient matches central finite differences (in float64); parameter gradients
    add up over two backward passes; backward after ``unstash()`` sees the stashed
    forward (all state is in ``self.cache``); ``backward_params`` accumulates what
    ``backward`` does; float32 in -> float32 out.

    They run on deep copies; ``layer`` itself is left untouched. Stochastic layers
    must be deterministic while checked (e.g. put them in eval mode).

    Parameters
    ----------
    layer : Layer or MergeLayer
    *inputs : array_like
        Example inputs, cast to float64.
    rtol, atol : float, default 1e-5, 1e-7
        The finite-difference tolerance: ``|analytic − numeric| <= atol + rtol ·
        |numeric|``.
    seed : int, default 0
        Seeds the random upstream gradient and the second input of the stash check.

    Raises
    ------
    AssertionError
        Naming the failed check and, for gradients, the input or parameter and the
        worst mismatch (index, analytic vs numeric).
    TypeError
        ``inputs`` do not suit ``layer`` (count), a misuse rather than a failure.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> check_layer(mg.Dense(3, 2, rng=0), np.ones((4, 3)))
    >>> check_layer(mg.Add(), np.ones((4, 3)), np.zeros((4, 3)))
    """
    try:
        check_arity(layer, len(inputs))
    except ValueError as exc:
        raise TypeError(f"check_layer: {exc} (example inputs)") from None
    merge = isinstance(layer, MergeLayer)
    rng = np.random.default_rng(seed)
    xs = [np.array(x, dtype=np.float64) for x in inputs]
    names = ["input"] if len(xs) == 1 and not merge else [f"input {i}" for i in range(len(xs))]

    def forward(model: AnyLayer, arrays: Sequence[Array]) -> Array:
        y: Array = model.forward(*arrays)
        return y

    def backward(model: AnyLayer, grad: Array) -> list[Array]:
        grads = (
            list(model.backward(grad)) if isinstance(model, MergeLayer)
            else [model.backward(grad)]
        )
        if len(grads) != len(xs):
            raise _fail(layer, "gradient count",
                        f"backward() returned {len(grads)} gradients for {len(xs)} inputs")
        return grads

    def fresh_inputs() -> list[Array]:
        return [x.copy() for x in xs]

    # Backward before any forward must raise, not return garbage.
    fresh = copy.deepcopy(layer)
    fresh.clear_cache()
    y = forward(_with_dtype(layer, np.float64), fresh_inputs())
    try:
        fresh.backward(np.ones_like(y))
    except (RuntimeError, ValueError):
        pass
    except Exception as exc:  # e.g. AttributeError: state kept outside self.cache
        raise _fail(layer, "backward before forward", f"backward() raised "
                    f"{type(exc).__name__}: {exc}; read the forward's state with "
                    "self.saved(), which raises RuntimeError") from None
    else:
        raise _fail(layer, "backward before forward", "backward() did not raise")

    # Forward leaves its inputs alone; output shape and dtype are stable.
    model = _with_dtype(layer, np.float64)
    given = fresh_inputs()
    y = forward(model, given)
    for name, x_in, x in zip(names, given, xs):
        if not np.array_equal(x_in, x):
            raise _fail(layer, "input mutation", f"forward() modified its {name} array")
    if y.dtype != np.float64:
        raise _fail(layer, "dtype", f"float64 input gave a {y.dtype} output")
    y_again = forward(model, fresh_inputs())
    if y_again.shape != y.shape or y_again.dtype != y.dtype:
        raise _fail(layer, "output stability", f"shape/dtype changed from {y.shape} "
                    f"{y.dtype} to {y_again.shape} {y_again.dtype} on the same input")

    # Gradients against finite differences of  L = Σ y ⊙ R  for a random R.
    upstream = rng.standard_normal(y.shape)
    params = model.parameters()
    g = upstream.copy()
    backward(model, g)
    if not np.array_equal(g, upstream):
        raise _fail(layer, "gradient mutation", "backward() modified its grad_out")

    def loss_and_grads(*arrays: Array) -> tuple[float, list[Array]]:
        model.zero_grad()
        value = float(np.sum(forward(model, arrays[: len(xs)]) * upstream))
        return value, [*backward(model, upstream), *(p.grad for p in params)]

    names += [f"parameter {n!r}" for n, _ in model.named_parameters()]
    try:
        gradcheck(loss_and_grads, *fresh_inputs(), *(p.data for p in params),
                  names=names, rtol=rtol, atol=atol)
    except AssertionError as exc:
        raise _fail(layer, "finite differences", str(exc)) from None

    # Parameter gradients accumulate over two backward passes.
    model.zero_grad()
    forward(model, fresh_inputs())
    backward(model, upstream)
    once = [p.grad.copy() for p in params]
    forward(model, fresh_inputs())
    backward(model, upstream)
    for (name, p), g1 in zip(model.named_parameters(), once):
        if not np.allclose(p.grad, 2 * g1, rtol=1e-12, atol=1e-12):
            raise _fail(layer, "gradient accumulation",
                        f"parameter {name!r}: two backward passes did not add up")

    # The cache can be stashed and restored: backward sees the forward it belongs to.
    model.zero_grad()
    forward(model, fresh_inputs())
    stashed = model.stash()
    expected = [g.copy() for g in backward(model, upstream)] + [p.grad.copy() for p in params]
    model.zero_grad()
    forward(model, [x + rng.standard_normal(x.shape) for x in xs])
    model.unstash(stashed)
    got = [*backward(model, upstream), *(p.grad for p in params)]
    if not all(np.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(got, expected)):
        raise _fail(layer, "stash/unstash", "backward after unstash() did not match the "
                    "stashed forward; keep all forward state in self.cache")

    # backward_params (a layer's backward without dL/dx) accumulates the same gradients.
    if isinstance(model, Layer):
        model.zero_grad()
        forward(model, fresh_inputs())
        model.backward_params(upstream)
        if not all(np.allclose(p.grad, g, rtol=1e-12, atol=1e-12)
                   for p, g in zip(params, expected[len(xs):])):
            raise _fail(layer, "backward_params", "its parameter gradients differ from "
                        "those of backward()")

    # float32 end to end.
    model32 = _with_dtype(layer, np.float32)
    y32 = forward(model32, [x.astype(np.float32) for x in xs])
    grads32 = backward(model32, upstream.astype(np.float32))
    for what, array in [("output", y32),
                        *((f"gradient of {n}", g) for n, g in zip(names, grads32)),
                        *((f"gradient of {n!r}", p.grad) for n, p in model32.named_parameters())]:
        if array.dtype != np.float32:
            raise _fail(layer, "float32", f"float32 model and input gave a {array.dtype} {what}")
