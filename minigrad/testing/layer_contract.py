"""`check_layer`: every check a `Layer` or `MergeLayer` must pass, in one call."""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator, Sequence
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Layer, MergeLayer, Module, check_arity, describe
from minigrad.testing.finite_differences import (
    assert_close,
    check_tensor,
    gradcheck,
    numerical_gradient,
)

__all__ = ["assert_close", "check_layer", "gradcheck", "numerical_gradient"]

AnyLayer: TypeAlias = "Layer[Any] | MergeLayer[Any]"


def _with_dtype(module: AnyLayer, dtype: type[np.floating[Any]]) -> AnyLayer:
    """A deep copy of ``module`` with every parameter (and its grad) and every floating
    buffer cast to ``dtype`` -- and, as ``module.to(dtype)`` does, the ``dtype`` of each
    module that has one of its own (a layer without parameters computes in it)."""
    clone = copy.deepcopy(module)
    for sub in clone.modules():
        if isinstance(vars(sub).get("dtype"), np.dtype):
            sub.dtype = np.dtype(dtype)  # type: ignore[attr-defined]
    for param in clone.parameters():
        param.data = param.data.astype(dtype)
        param.grad = np.zeros_like(param.data)
    for buffer in clone.buffers():
        if buffer.data.dtype.kind == "f":
            buffer.data = buffer.data.astype(dtype)
    return clone


def _randomize(module: AnyLayer, rng: np.random.Generator) -> None:
    """Move every parameter off its initial values: ``θ·u + 0.1·rms(θ)·z`` with
    ``u ~ U(0.5, 1.5)``, ``z ~ N(0, 1)`` (rms 1 for an all-zero θ), so a gradient that is
    right only at ones or zeros is caught, while signs and scales are kept."""
    for param in module.parameters():
        data = param.data
        rms = float(np.sqrt(np.mean(np.square(data)))) or 1.0
        noise = rng.uniform(0.5, 1.5, data.shape) * data + 0.1 * rms * rng.standard_normal(
            data.shape)
        data[...] = noise


def _fresh(layer: AnyLayer, xs: Sequence[Array]) -> tuple[AnyLayer, Array]:
    """A float64 copy of ``layer`` as if never run -- what a forward assigns (on any
    module of the tree) deleted, the caches cleared -- and an output of that forward."""
    probe, fresh = _with_dtype(layer, np.float64), _with_dtype(layer, np.float64)
    pairs = list(zip(probe.modules(), fresh.modules()))
    before = [dict(vars(module)) for module, _ in pairs]
    y: Array = probe.forward(*xs)
    for (module, twin), old in zip(pairs, before):
        for name, value in vars(module).items():
            if name not in old or old[name] is not value:  # assigned by the forward
                vars(twin).pop(name, None)
    fresh.clear_cache()
    return fresh, y


def _arrays(state: object) -> Iterator[Array]:
    """Every ndarray in a stash (nested tuples, lists, dicts and sets)."""
    if isinstance(state, np.ndarray):
        yield state
    elif isinstance(state, (tuple, list, set)):
        for item in state:
            yield from _arrays(item)
    elif isinstance(state, dict):
        for item in state.values():
            yield from _arrays(item)


def _float64_suspects(model: AnyLayer) -> list[str]:
    """Float64 arrays and NumPy float64 scalars held by the modules of ``model`` or read
    as globals by their classes' methods (a module-level ``np.sqrt(2 / np.pi)``)."""
    found: dict[str, None] = {}

    def is_float64(value: object) -> bool:
        return isinstance(value, (np.ndarray, np.floating)) and value.dtype == np.float64

    for module in model.modules():
        for name, value in vars(module).items():
            if is_float64(value):
                found[f"{module!r}.{name}"] = None
        for klass in type(module).__mro__:
            for member in vars(klass).values():
                function = getattr(member, "__func__", member)  # static/class methods
                codes = [getattr(function, "__code__", None)]
                while codes:
                    code = codes.pop()
                    if not isinstance(code, types.CodeType):
                        continue
                    codes += code.co_consts  # nested functions and comprehensions
                    for name in code.co_names:
                        if is_float64(function.__globals__.get(name)):
                            found[f"{function.__module__}.{name}"] = None
    return list(found)


def _fail(layer: Module[Any], check: str, detail: str) -> AssertionError:
    return AssertionError(f"check_layer({layer!r}) -- {check}: {detail}")


def check_layer(
    layer: Layer[Any] | MergeLayer[Any],
    *inputs: npt.ArrayLike,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
    randomize: bool = True,
    backends: Sequence[types.ModuleType] = (),
) -> None:
    """Run the layer contract on ``layer`` with example inputs (one for a `Layer`,
    one per input for a `MergeLayer`).

    The checks, in order: backward before forward raises (any exception counts, on a
    copy stripped of everything a forward assigns, so earlier calls do not matter);
    forward leaves its inputs alone; backward leaves its incoming gradient, its inputs
    and the state its forward kept alone, and returns one gradient per input; every
    input's and parameter's gradient matches central finite differences (in float64);
    the output's shape and dtype are stable; parameter gradients add up over two
    backward passes; backward after `Module.unstash` sees the stashed forward, however
    many forwards ran in between (what weight sharing relies on); ``backward_params``
    accumulates what ``backward`` does; float32 in -> float32 out.

    Finite differences run at *randomized* parameter values (see ``randomize``), so a
    gradient right only at the initial ones or zeros fails. Their cost is not one
    evaluation per element: for each input and parameter, the derivative along two
    random directions and at three coordinates; only a tensor that fails is compared
    element by element (when it has up to 4096), to name the worst index.

    An *integer* example input is a batch of ids (an embedding lookup's): it is passed
    as it is, never cast or perturbed, and no gradient is expected for it -- whatever
    ``backward`` returns in its place is ignored; the parameters are still checked.

    Everything runs on deep copies; ``layer`` itself is left untouched, so calling this
    between a forward and its backward changes nothing. Stochastic layers must be
    deterministic while checked (e.g. put them in eval mode).

    Parameters
    ----------
    layer : Layer or MergeLayer
    *inputs : array_like
        Example inputs: integer arrays (ids) as they are, others cast to float64.
    rtol, atol : float, default 1e-5, 1e-7
        The finite-difference tolerance: ``|analytic − numeric| <= atol + rtol ·
        |numeric|`` per element (along a direction: the sum this implies).
    seed : int, default 0
        Seeds the parameter values, the upstream gradient, the directions and the
        second input of the stash check.
    randomize : bool, default True
        Draw parameter values ``θ·u + 0.1·rms(θ)·z`` (``u ~ U(0.5, 1.5)``, ``z ~ N(0, 1)``;
        signs and scales kept) on the copies. False: check at the current values (for a
        layer whose parameters must satisfy a constraint).
    backends : sequence of modules, default ()
        Array libraries to check portability on (``array_api_strict``, the standard's
        strict reference, catches every non-standard call; ``torch``, ``cupy``): a deep
        copy moved there with `Module.to` runs forward and backward on the same inputs
        and upstream gradient, and must return that library's arrays, equal to the
        NumPy run's output, input gradients and parameter gradients (float64, 1e-10).
        A layer that calls NumPy on a foreign array -- the call fails, or hands back a
        NumPy array -- fails as "not portable".

    Raises
    ------
    AssertionError
        Naming the failed check and, for gradients, the input or parameter and the
        worst mismatch (index, analytic vs numeric).
    TypeError
        ``layer`` is not a `Layer` or `MergeLayer` (a plain function, say), or
        ``inputs`` do not suit it (count): a misuse rather than a failure.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> check_layer(mg.Dense(3, 2, rng=0), np.ones((4, 3)))
    >>> check_layer(mg.Add(), np.ones((4, 3)), np.zeros((4, 3)))
    """
    if not isinstance(layer, (Layer, MergeLayer)):
        raise TypeError(f"check_layer: layer must be a minigrad Layer or MergeLayer (a "
                        f"module with forward and backward), got {describe(layer)}")
    try:
        check_arity(layer, len(inputs))
    except ValueError as exc:
        raise TypeError(f"check_layer: {exc} (example inputs)") from None
    merge = isinstance(layer, MergeLayer)
    rng = np.random.default_rng(seed)
    xs = [np.array(x) if np.asarray(x).dtype.kind in "iu" else np.array(x, dtype=np.float64)
          for x in inputs]
    ids = [x.dtype.kind in "iu" for x in xs]
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

    def unchanged(check: str, call: str, given: Sequence[Array]) -> None:
        for name, x_in, x in zip(names, given, xs):
            if not np.array_equal(x_in, x, equal_nan=True):
                raise _fail(layer, check, f"{call} modified its {name} array")

    # Backward before any forward must raise, not return garbage.
    fresh, y = _fresh(layer, fresh_inputs())
    try:
        fresh.backward(np.ones_like(y))
    except Exception:  # any refusal will do: RuntimeError, AttributeError, ...
        pass
    else:
        raise _fail(layer, "backward before forward", "backward() did not raise; read "
                    "the forward's state with self.saved() (or from attributes the forward "
                    "sets), so a backward without its forward fails")

    # Forward leaves its inputs alone; backward its gradient, inputs and kept state.
    model = _with_dtype(layer, np.float64)
    if randomize:
        _randomize(model, rng)
    params = model.parameters()
    given = fresh_inputs()
    y = forward(model, given)
    unchanged("input mutation", "forward()", given)
    if y.dtype != np.float64 and (params or not all(ids)):
        raise _fail(layer, "dtype", f"float64 input gave a {y.dtype} output")
    stashed = model.stash()
    kept = [(array, array.copy()) for array in _arrays(stashed)]
    upstream = rng.standard_normal(y.shape)
    g = upstream.copy()
    model.zero_grad()
    returned = backward(model, g)
    grads = [np.array(a, dtype=np.float64) for a, skip in zip(returned, ids) if not skip]
    param_grads = [p.grad.copy() for p in params]
    for array, before in kept:
        if not np.array_equal(array, before, equal_nan=True):
            raise _fail(layer, "cache mutation", f"backward() modified state its forward "
                        f"kept (an array of shape {array.shape}); compute into new arrays "
                        "(g * s, not g *= s), never into what forward saved")
    unchanged("input mutation", "backward()", given)
    if not np.array_equal(g, upstream):
        raise _fail(layer, "gradient mutation", "backward() modified its grad_out")

    # Gradients against finite differences of  L = Σ y ⊙ R  for a random R.
    def value() -> tuple[float, float]:
        out = forward(model, given)
        if out.shape != y.shape or out.dtype != y.dtype:
            raise _fail(layer, "output stability", f"shape/dtype changed from {y.shape} "
                        f"{y.dtype} to {out.shape} {out.dtype} on an input of one shape")
        terms = out * upstream
        return float(np.sum(terms)), float(np.sum(np.abs(terms)))

    tensors = [(f"gradient of {name}", x) for name, x, skip in zip(names, given, ids)
               if not skip]
    tensors += [(f"gradient of parameter {name!r}", p.data)
                for name, p in model.named_parameters()]
    for (what, x), analytic in zip(tensors, [*grads, *param_grads]):
        try:
            check_tensor(what, x, analytic, value, rng, rtol, atol)
        except AssertionError as exc:
            raise _fail(layer, "finite differences", str(exc)) from None

    # Parameter gradients accumulate over two backward passes.
    forward(model, fresh_inputs())
    backward(model, upstream)
    for (name, p), once in zip(model.named_parameters(), param_grads):
        if not np.allclose(p.grad, 2 * once, rtol=1e-12, atol=1e-12):
            raise _fail(layer, "gradient accumulation",
                        f"parameter {name!r}: two backward passes did not add up")

    # Per-use state can be stashed and restored: backward sees the forward it belongs to.
    model.zero_grad()
    forward(model, [rng.permutation(x.reshape(-1)).reshape(x.shape) if skip
                    else x + rng.standard_normal(x.shape) for x, skip in zip(xs, ids)])
    model.unstash(stashed)
    again = backward(model, upstream)
    got = [*(a for a, skip in zip(again, ids) if not skip), *(p.grad for p in params)]
    if not all(np.allclose(a, b, rtol=1e-12, atol=1e-12)
               for a, b in zip(got, [*grads, *param_grads])):
        raise _fail(layer, "stash/unstash", "backward after unstash() did not match the "
                    "stashed forward: a later forward changed, in place, state an earlier "
                    "one kept (e.g. self.buf[...] = x into an array it reuses) or state "
                    "kept outside the layer; assign new arrays in forward (the sharing "
                    "rule in minigrad.core)")

    # backward_params (a layer's backward without dL/dx) accumulates the same gradients.
    if isinstance(model, Layer):
        model.zero_grad()
        model.unstash(stashed)
        model.backward_params(upstream)
        if not all(np.allclose(p.grad, g, rtol=1e-12, atol=1e-12)
                   for p, g in zip(params, param_grads)):
            raise _fail(layer, "backward_params", "its parameter gradients differ from "
                        "those of backward()")

    # float32 end to end.
    model32 = _with_dtype(model, np.float32)
    y32 = forward(model32, [x if skip else x.astype(np.float32) for x, skip in zip(xs, ids)])
    grads32 = backward(model32, upstream.astype(np.float32))
    for what, array in [("output", y32),
                        *((f"gradient of {n}", g)
                          for n, g, skip in zip(names, grads32, ids) if not skip),
                        *((f"gradient of {n!r}", p.grad) for n, p in model32.named_parameters())]:
        if array.dtype != np.float32:
            suspects = ", ".join(_float64_suspects(model32)) or (
                "none held by the layer or its module; e.g. np.sqrt(2 / np.pi) or np.array(2.0)")
            raise _fail(layer, "float32", f"float32 model and input gave a {array.dtype} "
                        f"{what}; look for float64 constants or arrays it computes with "
                        f"({suspects}): NumPy promotes float32 arrays with NumPy float64 "
                        "scalars and arrays, not with Python floats -- use float(...) or "
                        ".astype(x.dtype)")
    for library in backends:
        _check_backend(layer, model, xs, ids, upstream, library)


def _check_backend(layer: AnyLayer, model: AnyLayer, xs: Sequence[Array], ids: Sequence[bool],
                   upstream: Array, library: types.ModuleType) -> None:
    """Run a copy of the float64 ``model`` moved to ``library`` and one left on NumPy on
    ``xs`` and ``upstream``: the moved one must compute the same, in its own arrays."""
    labels = ["output", *(f"gradient of input {i}" for i, skip in enumerate(ids) if not skip),
              *(f"gradient of parameter {name!r}" for name, _ in model.named_parameters())]

    def run(module: AnyLayer, inputs: Sequence[Array], grad: Array) -> list[Array]:
        module.zero_grad()
        y: Array = module.forward(*inputs)
        grads = module.backward(grad) if isinstance(module, MergeLayer) else (
            module.backward(grad),)
        return [y, *(g for g, skip in zip(grads, ids) if not skip),
                *(p.grad for p in module.parameters())]

    want = run(copy.deepcopy(model), xs, upstream)
    xp = backend.resolve(library)
    where = f"on {library.__name__}"
    hint = ("uses a NumPy-only call (np.* on its input, an ndarray method, out=, ...); "
            "write it with xp = minigrad.backend.namespace(x) and the Array API's functions")
    inputs = [backend.asarray(x, xp) for x in xs]
    try:
        got = run(copy.deepcopy(model).to(library), inputs, backend.asarray(upstream, xp))
    except Exception as exc:  # AttributeError, TypeError, ... from a NumPy-only call
        raise _fail(layer, "backends", f"not portable {where}: {type(exc).__name__}: {exc} "
                    f"-- it {hint}") from exc
    for label, array, reference in zip(labels, got, want):
        if not backend.same_place(array, inputs[0]):
            raise _fail(layer, "backends", f"not portable {where}: its {label} is "
                        f"{backend.describe(array)}, not {backend.describe(inputs[0])} "
                        f"-- it {hint}")
        if not np.allclose(backend.to_numpy(array), reference, rtol=1e-10, atol=1e-10):
            raise _fail(layer, "backends", f"{where}, its {label} differs from NumPy's "
                        "(rtol=atol=1e-10)")
