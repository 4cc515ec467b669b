"""Which array library an array belongs to, moving arrays between libraries, and
`sigmoid` (NumPy's overflow check, ``torch.sigmoid``).

Part of `minigrad.backend`, which re-exports all of it (the matrix products are
`minigrad.backend.linalg`, the in-place kernels `minigrad.backend.kernels`); layers
reach all three as ``backend.X``.
"""

from __future__ import annotations

import functools
import types
from typing import Any, TypeAlias

import numpy as np

Namespace: TypeAlias = Any
"""An array namespace: the ``numpy`` module, or a module following the Array API
standard (``array_api_compat.torch``, ``array_api_strict``, ...)."""


def is_foreign(array: object) -> bool:
    """Whether ``array`` is an array of another library than NumPy (a torch tensor, a
    CuPy or ``array_api_strict`` array); NumPy arrays and scalars, lists and Python
    numbers are not."""
    if isinstance(array, (np.ndarray, np.generic)):
        return False
    return hasattr(array, "__array_namespace__") or _library(array) == "torch"


def _library(array: object) -> str:
    """The top-level module of ``array``'s type: ``"numpy"``, ``"torch"``, ``"cupy"``."""
    return type(array).__module__.split(".")[0]


def namespace(*arrays: object) -> Namespace:
    """The array namespace of ``arrays`` (all from one library): ``numpy`` for NumPy.

    Raises
    ------
    TypeError
        The arrays come from different libraries, or one is not an array the Array
        API knows (naming the types).
    """
    if len(arrays) == 1:  # the common call, decided without a generator
        if type(arrays[0]) is np.ndarray:
            return np
    elif all(type(a) is np.ndarray for a in arrays):
        return np
    kind = type(arrays[0]) if arrays else None
    if kind in _NAMESPACE_OF_TYPE and all(type(a) is kind for a in arrays):
        return _NAMESPACE_OF_TYPE[kind]
    compat = _compat()
    try:
        xp = compat.array_namespace(*arrays)
    except TypeError:
        raise TypeError(
            "minigrad: expected arrays of one array library, got "
            + ", ".join(describe(a) for a in arrays)
        ) from None
    if kind is not None and _library(arrays[0]) in ("torch", "cupy"):
        _NAMESPACE_OF_TYPE[kind] = xp  # one namespace per tensor type, whatever the device
    return np if compat.is_numpy_namespace(xp) else xp


_NAMESPACE_OF_TYPE: dict[type, Namespace] = {}
"""The namespaces of PyTorch's and CuPy's array types, once looked up: ``array_namespace``
costs ~14 µs a call, and a training step of a small CNN on torch tensors asks ~60 times."""


def resolve(library: types.ModuleType) -> Namespace:
    """The namespace minigrad computes with for a library module the user names:
    ``numpy``, ``torch``, ``cupy`` or ``array_api_strict`` (or a compliant namespace).

    Raises
    ------
    TypeError
        ``library`` is not a module, or not an array library minigrad can use.
    """
    if library is np:
        return np
    if not isinstance(library, types.ModuleType):
        raise TypeError(f"minigrad: expected an array library module (numpy, torch, cupy, "
                        f"array_api_strict), got {type(library).__name__}")
    name = library.__name__
    if name in ("torch", "cupy"):
        import importlib

        return importlib.import_module(f"array_api_compat.{name}")
    if hasattr(library, "__array_api_version__"):  # a compliant namespace already
        return library
    raise TypeError(f"minigrad: {name} is not an array library minigrad can compute with; "
                    "use numpy, torch, cupy or array_api_strict")


def device(array: object) -> object:
    """The device ``array`` lives on (``"cpu"`` for NumPy)."""
    if type(array) is np.ndarray:
        return "cpu"
    if _library(array) == "torch":  # array_api_compat's answer, without its ~10 µs
        return array.device  # type: ignore[attr-defined]
    return _compat().device(array)


def describe(array: object) -> str:
    """A short name for an array's library, dtype and device, for error messages:
    ``numpy.ndarray``, ``torch.Tensor on cuda:0``."""
    kind = f"{_library(array)}.{type(array).__name__}"
    if type(array) is np.ndarray or not hasattr(array, "shape"):
        return kind
    try:
        return f"{kind} on {device(array)}"
    except TypeError:
        return kind


def to_numpy(array: object) -> np.ndarray[Any, Any]:
    """A NumPy copy of ``array`` from any supported library and device (via the host)."""
    if isinstance(array, np.ndarray):
        return np.array(array)
    library = _library(array)
    if library == "torch":
        return np.array(array.detach().cpu().numpy())  # type: ignore[attr-defined]
    if library == "cupy":
        return np.array(array.get())  # type: ignore[attr-defined]
    return np.array(np.from_dlpack(array))  # type: ignore[arg-type]  # e.g. array_api_strict


def asarray(array: np.ndarray[Any, Any], xp: Namespace, device: object = None) -> Any:
    """A copy of the NumPy ``array`` in the namespace ``xp`` (on ``device``), same dtype."""
    if xp is np:
        return np.array(array, order="C")
    if device is None:
        return xp.asarray(array, copy=True)
    return xp.asarray(array, device=device, copy=True)


def asarray_like(array: np.ndarray[Any, Any], like: Any) -> Any:
    """The NumPy ``array`` where ``like`` lives: ``array`` itself when ``like`` is a NumPy
    array, else a copy in ``like``'s library on its device (same dtype). Randomness is
    drawn in NumPy (the same ``rng`` gives the same model everywhere) and moved so."""
    if type(like) is np.ndarray:
        return array
    return asarray(array, namespace(like), device(like))


def numpy_dtype(dtype: object) -> np.dtype[Any]:
    """The NumPy dtype of the same name as any library's dtype (``torch.float32`` ->
    ``float32``), for checks and messages that speak NumPy's terms."""
    if isinstance(dtype, np.dtype):
        return dtype
    return _numpy_dtype_named(str(dtype).rsplit(".", 1)[-1])


@functools.lru_cache(maxsize=64)
def _numpy_dtype_named(name: str) -> np.dtype[Any]:
    return np.dtype(name)


def same_place(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are arrays of one library on one device."""
    if type(a) is np.ndarray:
        return type(b) is np.ndarray
    return type(a) is type(b) and device(a) == device(b)


def move(array: Any, xp: Namespace, device_: object = None) -> Any:
    """``array`` in the namespace ``xp`` on ``device_`` (by default: where ``xp`` puts
    new arrays); ``array`` itself when it is there already, else a copy via the host."""
    if xp is np:
        return array if type(array) is np.ndarray else to_numpy(array)
    if type(array) is not np.ndarray and namespace(array) is xp and (
        device_ is None or device(array) == device_
    ):
        return array
    return asarray(to_numpy(array), xp, device_)


def empty_like_shape(like: Any, shape: tuple[int, ...]) -> Any:
    """An uninitialised array of ``shape`` with ``like``'s library, dtype and device."""
    if type(like) is np.ndarray:
        return np.empty(shape, dtype=like.dtype)
    return namespace(like).empty(shape, dtype=like.dtype, device=device(like))


def fill_zero(array: Any) -> None:
    """Set every element of ``array`` to 0, in place."""
    if type(array) is np.ndarray:
        array.fill(0)
    else:
        array[...] = 0


@functools.cache
def _exp_overflow_bound(dtype: np.dtype[Any]) -> float:
    """A ``t`` just under ``log(largest finite value)``: ``e^t`` is finite in ``dtype``."""
    return float(np.log(np.finfo(dtype).max)) - 1.0


def _smallest(x: np.ndarray[Any, Any]) -> float:
    """``min(x)`` for `sigmoid`'s overflow check, NaN if ``x`` holds one. For a small
    array the entry at ``argmin`` (NaN's first one, if any), a third of NumPy's
    reduction, whose set-up costs ~1 µs at any size (the blog net's hidden layer has 18
    values); for a large one the reduction, a little faster there."""
    return x.item(x.argmin()) if x.size <= 4096 else x.min()  # type: ignore[no-any-return]


def sigmoid(x: Any) -> Any:
    """σ(x) = 1 / (1 + e^(-x)), stable for every finite ``x``, in ``x``'s library and dtype.

    On NumPy, when ``e^(-x)`` cannot overflow anywhere (``min(x)`` above
    ``-log(max float)``), the textbook formula is exact enough, keeps tiny values
    (σ(-700) ≈ 1e-304 in float64) and takes four passes over the data, in place.
    Otherwise -- a very negative entry, or a NaN -- and on every other library except
    PyTorch (which has ``torch.sigmoid``), multiplying through by ``e^min(x, 0)`` gives
    a form whose exponents are never positive, so nothing can overflow::

        σ(x) = e^min(x, 0) / (1 + e^(-|x|))

    (for x ≥ 0 that is ``1 / (1 + e^(-x))``, for x < 0 it is ``e^x / (1 + e^x)``). It
    needs seven passes and no ``where``, whose data-dependent branches cost more than a
    second ``exp`` on mixed-sign inputs.
    """
    if type(x) is np.ndarray:
        if x.size and _smallest(x) > -_exp_overflow_bound(x.dtype):  # NaN: the general form
            out = np.negative(x)
            np.exp(out, out=out)
            out += 1.0  # float scalars: NumPy converts ints more slowly
            np.divide(1.0, out, out=out)
            return out
        denominator = np.abs(x)
        np.negative(denominator, out=denominator)
        np.exp(denominator, out=denominator)
        denominator += 1.0
        out = np.minimum(x, 0.0)
        np.exp(out, out=out)
        out /= denominator
        return out
    if _library(x) == "torch":
        import torch

        return torch.sigmoid(x)
    xp = namespace(x)
    return xp.exp(xp.minimum(x, 0.0)) / (1.0 + xp.exp(-xp.abs(x)))


def _compat() -> Any:
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - a core dependency; only a broken install
        raise ImportError("minigrad: arrays other than NumPy's need the array-api-compat "
                          "package (pip install array-api-compat)") from None
    return array_api_compat
