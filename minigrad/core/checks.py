"""Argument and input checks shared across the library, and `raise_located`.

Part of the base (`minigrad.core` re-exports all of it): numbers (`check_number`,
`check_positive`, `check_count`), flags (`check_bool`), a layer's input and gradient (`as_batch`,
`validate_input`, `as_grad`), the finiteness of a loaded state (`check_finite_state`),
the lists of keys in messages (`name_list`) and the located errors of containers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from minigrad import backend
from minigrad.core.parameter import _REAL_KINDS, Array

if TYPE_CHECKING:
    from minigrad.core.module import Module

_ndarray = np.ndarray  # bound once: ``np.ndarray`` is two lookups a check, on the hot path


def check_number(
    owner: str, name: str, value: object, rule: str, ok: Callable[[float], bool]
) -> float:
    """``value`` as a float if it is a real number (not a bool) for which ``ok`` holds;
    otherwise `ValueError`: ``"{owner}: {name} must be {rule}, got {value!r}"``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not ok(float(value))
    ):
        raise ValueError(f"{owner}: {name} must be {rule}, got {value!r}")
    return float(value)


def check_bool(owner: str, name: str, value: object) -> bool:
    """``value`` if it is a bool (NumPy's too), else `TypeError` naming it (Python's
    error for a value of the wrong type; ``1`` for True is refused too, so a misplaced
    positional argument does not pass as a flag). The one check of every flag."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return bool(value)


def check_non_negative(owner: str, name: str, value: object) -> float:
    """``value`` as a float if it is finite and >= 0, else `ValueError` naming it."""
    return check_number(owner, name, value, "a finite number >= 0",
                        lambda v: math.isfinite(v) and v >= 0)


def check_positive(owner: str, name: str, value: object) -> float:
    """``value`` as a float if it is finite and > 0, else `ValueError` naming it."""
    return check_number(owner, name, value, "a finite number > 0",
                        lambda v: math.isfinite(v) and v > 0)


NAMES_SHOWN = 20
"""How many names an error message lists (`name_list`) before it says how many more."""


def name_list(names: Iterable[object], *, brackets: bool = True) -> str:
    """``names`` for an error message: ``['a', 'b']`` (``'a', 'b'`` without ``brackets``),
    at most `NAMES_SHOWN` of them, then ``and 37 more``.

    Every message that lists keys or node names goes through here, so that a state dict
    of a thousand-layer model gives a readable error, not a page of keys.
    """
    items = list(names)
    shown = ", ".join(repr(name) for name in items[:NAMES_SHOWN])
    if brackets:
        shown = f"[{shown}]"
    more = len(items) - NAMES_SHOWN
    return shown if more <= 0 else f"{shown} and {more} more"


def describe(value: object) -> str:
    """What a caller got where it wanted a layer (a container, `fit`, ``check_layer``),
    with a hint for a forgotten ``()``."""
    if isinstance(value, type):
        return f"the class {value.__name__}; did you mean {value.__name__}()?"
    return type(value).__name__


def check_finite_state(owner: str, name: str, value: Array) -> None:
    """Refuse a state entry (the NumPy array ``value``) that holds NaN or ±inf.

    The one rule for every way a state comes in -- `minigrad.load`,
    ``Module.load_state_dict``, ``Optimizer.load_state_dict``,
    ``export.load_torch_state_dict``: training cannot start from such values, so they
    are refused where they enter, not found later as a NaN loss. Integer and bool
    entries always pass.

    Raises
    ------
    ValueError
        ``"{owner}: {name} holds non-finite values (NaN or ±inf): 3 of 12; ..."``.
    """
    if value.dtype.kind not in "fc":
        return
    finite = np.isfinite(value)
    if not finite.all():
        raise ValueError(
            f"{owner}: {name} holds non-finite values (NaN or ±inf): "
            f"{finite.size - int(np.count_nonzero(finite))} of {finite.size}; a state "
            "that cannot be trained from is refused"
        )


def check_count(owner: str, name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (NumPy ints too, bools not), else `ValueError`."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# -- input validation shared by the layers ----------------------------------------------


def as_batch(
    layer: Module[Any],
    x: object,
    *,
    features: int | None = None,
    shape: tuple[int | str, ...] | None = None,
    dtype: np.dtype[Any] | None = None,
    like: Array | None = None,
) -> Array:
    """Validate a layer's input ``(batch, *sample_shape)`` and return it as an array.

    Without ``shape`` any rank >= 2 is accepted -- a batch of samples with at least one
    axis -- and ``features``, when given, is the size of the *last* axis (what `Dense`
    maps). With ``shape``, a template such as ``("batch", 3, "height", "width")``, the
    rank must be ``len(shape)`` and each int entry must match (strings name free axes).

    ``like`` is the layer's parameter array (its weight): the input must be an array
    of its library on its device -- a NumPy batch for a NumPy layer, a tensor on the
    same device for a layer moved with `Module.to` -- and is computed in its dtype.
    Without ``like``, any library's array is accepted as it is. NumPy inputs may be
    any real array-like; ``dtype`` forces a computation dtype (a NumPy dtype means
    the same-named dtype of a foreign input's library). Otherwise a floating input
    keeps its dtype and bool/int become float64.

    Raises
    ------
    TypeError
        A non-real input, or one of another library or device than ``like`` (naming
        both; never copied across), naming ``layer``.
    ValueError
        A shape other than expected, or an empty input, naming ``layer``.
    """
    if like is not None:
        dtype = like.dtype
        if type(like) is not _ndarray:
            # The same fast path for a layer moved to another library: an array of the
            # parameter's type, dtype and device, of a fitting shape, is returned as is.
            if (
                type(x) is type(like)
                and x.dtype == dtype
                and (len(x.shape) >= 2 if shape is None
                     else _matches(x.shape, shape))
                and (features is None or x.shape[-1] == features)
                and 0 not in x.shape
                and backend.device(x) == backend.device(like)
            ):
                return x
            return _as_batch_slow(layer, x, features, shape, dtype, like)
    # Fast path: the common case costs a handful of attribute reads (each counts: six
    # calls a step of the blog net, whose whole step is ~20 µs).
    if (
        type(x) is _ndarray
        and (x.dtype == dtype if dtype is not None else x.dtype.kind == "f")
        and (x.ndim >= 2 if shape is None else _matches(x.shape, shape))
        and (features is None or x.shape[-1] == features)
        and x.size
    ):
        return x
    return _as_batch_slow(layer, x, features, shape, dtype, like)


def _matches(actual: tuple[int, ...], template: tuple[int | str, ...]) -> bool:
    if len(actual) != len(template):
        return False
    for got, want in zip(actual, template):  # noqa: SIM110 -- all(...)'s generator costs
        if type(want) is not str and got != want:  # as much as the check, every forward
            return False
    return True


def expected_shape(features: int | None, shape: tuple[int | str, ...] | None) -> str:
    """How `as_batch` writes the shape it expects: ``(batch, ..., 4)``, ``(batch, 3, L)``."""
    if shape is not None:
        return "(" + ", ".join(str(item) for item in shape) + ")"
    return f"(batch, ..., {features if features is not None else 'features'})"


def check_same_place(layer: Module[Any], x: object, like: object, what: str = "input") -> None:
    """Refuse ``x`` unless it is an array of ``like``'s library on ``like``'s device.

    Raises
    ------
    TypeError
        Naming ``layer``, where its parameters live and what ``x`` is.
    """
    if not backend.same_place(x, like):
        raise TypeError(
            f"{layer!r} has its parameters as {backend.describe(like)}, got an {what} of "
            f"{backend.describe(x)}; move the {what} there (minigrad never copies across "
            "libraries or devices behind your back), or the model with model.to(...)"
        )


def _as_batch_slow(
    layer: Module[Any],
    x: object,
    features: int | None,
    shape: tuple[int | str, ...] | None,
    dtype: Any,
    like: Array | None,
) -> Array:
    def fits(sizes: tuple[int, ...]) -> bool:
        if shape is not None:
            return _matches(sizes, shape)
        return len(sizes) >= 2 and (features is None or sizes[-1] == features)

    return validate_input(layer, x, expected_shape(features, shape), fits, dtype, like)


def validate_input(
    layer: Module[Any],
    x: object,
    expected: str,
    fits: Callable[[tuple[int, ...]], bool],
    dtype: Any = None,
    like: Array | None = None,
) -> Array:
    """The validation behind `as_batch` (and ``nd.as_nd``), for any shape rule.

    ``x`` must be a real array (NumPy inputs: any array-like) whose shape ``fits``
    (``expected`` says it in words, for the message) and which is not empty; with
    ``like`` (the layer's parameter), of ``like``'s library and device, computed in its
    dtype. ``dtype`` (a NumPy dtype, or the input library's) forces the computation
    dtype; otherwise a floating input keeps its dtype and bool/int become float64.

    Raises
    ------
    TypeError
        A non-real input, or one of another library or device than ``like`` (naming
        both), naming ``layer``.
    ValueError
        A shape that does not fit, or an empty input, naming ``layer``.
    """
    if like is not None:
        dtype = like.dtype
    if backend.is_foreign(x) or (like is not None and type(like) is not np.ndarray):
        if like is not None:
            check_same_place(layer, x, like)
        array: Any = x
        kind = backend.numpy_dtype(array.dtype).kind
    else:
        try:
            array = np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{layer!r} expected input of shape {expected}: {exc}") from None
        kind = array.dtype.kind
    if kind not in _REAL_KINDS:
        raise TypeError(f"{layer!r} expected a real numeric input, got dtype {array.dtype}")
    sizes = tuple(array.shape)
    if not fits(sizes):
        raise ValueError(f"{layer!r} expected input of shape {expected}, got {sizes}")
    if math.prod(sizes) == 0:
        raise ValueError(f"{layer!r} got an empty input of shape {sizes}")
    if type(array) is np.ndarray:
        if dtype is None:
            dtype = array.dtype if kind == "f" else np.dtype(np.float64)
        return array.astype(dtype, copy=False)
    xp = backend.namespace(array)
    if dtype is None:
        dtype = array.dtype if kind == "f" else xp.float64
    elif isinstance(dtype, np.dtype):  # a NumPy dtype named for another library's array
        dtype = getattr(xp, dtype.name)
    converted: Array = array if array.dtype == dtype else xp.astype(array, dtype)
    return converted


def as_grad(
    layer: Module[Any], grad: object, shape: tuple[int, ...], dtype: Any
) -> Array:
    """Validate the gradient handed to ``layer.backward``: the shape of its last output,
    computed in ``dtype``, the dtype of that output (which says its library, too).

    Raises
    ------
    TypeError
        A non-real gradient, or one of another library than the output, naming ``layer``.
    ValueError
        Another shape than the last output's, naming ``layer``.
    """
    if type(grad) is _ndarray and grad.shape == shape and grad.dtype == dtype:
        return grad
    if isinstance(dtype, np.dtype):  # a NumPy layer
        if backend.is_foreign(grad):
            raise TypeError(f"{layer!r}.backward expected a NumPy gradient (its output was "
                            f"one), got {backend.describe(grad)}")
        array: Any = np.asarray(grad)
    else:
        array = grad
        if not backend.is_foreign(grad) or type(getattr(grad, "dtype", None)) is not type(dtype):
            raise TypeError(f"{layer!r}.backward expected a gradient of its output's library "
                            f"(dtype {dtype}), got {backend.describe(grad)}")
    if backend.numpy_dtype(array.dtype).kind not in _REAL_KINDS:
        raise TypeError(f"{layer!r}.backward expected a real gradient, got dtype {array.dtype}")
    if tuple(array.shape) != tuple(shape):
        raise ValueError(
            f"{layer!r}.backward expected a gradient of shape {tuple(shape)} "
            f"(the shape of the last output), got {tuple(array.shape)}"
        )
    if type(array) is np.ndarray:
        return array.astype(dtype, copy=False)
    converted: Array = array if array.dtype == dtype else backend.namespace(array).astype(
        array, dtype)
    return converted


def raise_located(exc: Exception, container: str, where: str) -> NoReturn:
    """Re-raise ``exc`` with ``where`` (``"[2]"``, ``"['res']"``) prepended to its path.

    Containers wrap the errors of their children so a message reads
    ``at Sequential[2][1]: Dense(4→3) expected ...`` -- the indexing expression that
    reaches the failing layer. The original traceback is kept; exceptions of other
    types than ValueError, TypeError, RuntimeError and KeyError pass through unchanged.
    """
    if type(exc) not in (ValueError, TypeError, RuntimeError, KeyError):
        raise exc
    path = where + getattr(exc, "minigrad_path", "")
    message = getattr(exc, "minigrad_message", exc.args[0] if exc.args else "")
    wrapped = type(exc)(f"at {container}{path}: {message}")
    wrapped.minigrad_path = path  # type: ignore[attr-defined]
    wrapped.minigrad_message = message  # type: ignore[attr-defined]
    raise wrapped.with_traceback(exc.__traceback__) from None
