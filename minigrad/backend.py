"""The one seam between minigrad and the array libraries it computes with.

Layers are written once, against the Python Array API standard: a layer asks
`namespace` for the library of its input (``xp``) and calls ``xp.matmul``, ``xp.exp``,
``xp.sum``... The same code then runs on NumPy arrays, PyTorch tensors (CPU or CUDA),
CuPy arrays and ``array_api_strict`` arrays (the standard's reference, which refuses
anything non-standard) -- the way Chainer ran one codebase on NumPy and CuPy with
``xp = get_array_module(x)``.

Which namespace
    NumPy arrays get the ``numpy`` module itself: NumPy 2's main namespace follows the
    standard, and its calls cost less than the wrappers of ``array-api-compat``
    (``np.dot`` 1.0 µs, the wrapped ``matmul`` 2.3 µs on a 6×4 batch), which is what
    the blog net's 20 µs step is made of. Every other library goes through
    ``array_api_compat.array_namespace`` (imported on first use).

What is not in the standard
    The few library-specific fast paths live here and nowhere else, each with a
    standard fallback: `matmul_into` (NumPy's ``out=``), `sigmoid` (NumPy's overflow
    check, ``torch.sigmoid``), the optimizers' in-place updates (`UpdateKernels`:
    NumPy's ``out=`` ufuncs, torch's fused ``addcmul_``...), ... Randomness is always
    drawn from a NumPy ``Generator`` and then moved (`asarray`), so the same ``rng``
    gives the same model on every backend.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any, TypeAlias

import numpy as np

Namespace: TypeAlias = Any
"""An array namespace: the ``numpy`` module, or a module following the Array API
standard (``array_api_compat.torch``, ``array_api_strict``, ...)."""

__all__ = [
    "Namespace",
    "UpdateKernels",
    "asarray",
    "assign",
    "describe",
    "device",
    "empty_like_shape",
    "fill_zero",
    "is_foreign",
    "matmul_into",
    "move",
    "namespace",
    "numpy_dtype",
    "resolve",
    "same_place",
    "sigmoid",
    "to_numpy",
    "update_kernels",
    "vector_norm",
]


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
    if all(type(a) is np.ndarray for a in arrays):
        return np
    compat = _compat()
    try:
        xp = compat.array_namespace(*arrays)
    except TypeError:
        raise TypeError(
            "minigrad: expected arrays of one array library, got "
            + ", ".join(describe(a) for a in arrays)
        ) from None
    return np if compat.is_numpy_namespace(xp) else xp


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


def numpy_dtype(dtype: object) -> np.dtype[Any]:
    """The NumPy dtype of the same name as any library's dtype (``torch.float32`` ->
    ``float32``), for checks and messages that speak NumPy's terms."""
    if isinstance(dtype, np.dtype):
        return dtype
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


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


def matmul_into(a: Any, b: Any, out: Any) -> None:
    """``out[...] = a @ b`` -- for NumPy and PyTorch written straight into ``out``
    (``np.dot(..., out=)``: no temporary), for other libraries through one."""
    if type(out) is np.ndarray:
        np.dot(a, b, out=out)
    elif _library(out) == "torch":
        import torch

        torch.matmul(a, b, out=out)
    else:
        out[...] = a @ b


@functools.cache
def _exp_overflow_bound(dtype: np.dtype[Any]) -> float:
    """A ``t`` just under ``log(largest finite value)``: ``e^t`` is finite in ``dtype``."""
    return float(np.log(np.finfo(dtype).max)) - 1.0


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
        if x.size and x.min() > -_exp_overflow_bound(x.dtype):  # NaN: the general form
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


# -- in-place update kernels: the optimizers' and clipping's seam ------------------------
class UpdateKernels:
    """The in-place array updates optimizers are written with, one table per library.

    An update rule is written once against these methods (``k = update_kernels(θ)``;
    ``k.lerp_(m, g, 1 - β₁, tmp)``...); each library gets its fastest allocation-free
    form. This class is the standard's fallback -- in-place operators (``a += b``) and
    ``a[...] = expr``, which may allocate temporaries -- and runs on any compliant
    namespace (``array_api_strict``, CuPy). NumPy's table writes through ufuncs'
    ``out=`` into ``tmp``; PyTorch's calls its fused in-place methods (``add_``,
    ``lerp_``, ``addcmul_``, ``addcdiv_``) and ignores ``tmp``.

    Every method writes its first argument (``*_`` methods) or ``out`` (``*_into``);
    ``tmp`` is a scratch array of the operands' shape, dtype and library, distinct from
    every operand unless a method says otherwise; its contents are destroyed. Scalars
    are Python floats, so they never change an array's dtype.
    """

    def __init__(self, xp: Namespace) -> None:
        self.xp = xp

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        """``a ← a + α x`` (``x`` may be ``tmp``)."""
        a += x if alpha == 1 else alpha * x

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        """``out ← x + α y`` (``out`` distinct from ``x`` and ``y``)."""
        out[...] = x + alpha * y

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        """``a ← a + w (end − a)``: a running mean (torch's ``lerp_``)."""
        a += weight * (end - a)

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        """``a ← a + v x y``."""
        a += x * y * value

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        """``out ← base + v x y`` (``out`` distinct from the operands)."""
        out[...] = base + x * y * value

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        """``a ← a + v x / y`` (``y`` may be ``tmp``)."""
        a += x / y * value

    def sqrt_into(self, x: Any, out: Any) -> None:
        """``out ← √x`` (``out`` may be ``x``)."""
        out[...] = self.xp.sqrt(x)

    def maximum_(self, a: Any, b: Any) -> None:
        """``a ← max(a, b)``, elementwise."""
        a[...] = self.xp.maximum(a, b)

    def clip_(self, a: Any, low: float, high: float) -> None:
        """``a ← min(max(a, low), high)``, elementwise."""
        a[...] = self.xp.clip(a, low, high)


class _NumpyKernels(UpdateKernels):
    """NumPy: ufuncs with ``out=``, through ``tmp``; nothing is allocated."""

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        if alpha == 1:
            a += x
        else:
            a += np.multiply(x, alpha, out=tmp)

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        np.multiply(y, alpha, out=out)
        out += x

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        np.subtract(end, a, out=tmp)
        tmp *= weight
        a += tmp

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        np.multiply(x, y, out=tmp)
        if value != 1:
            tmp *= value
        a += tmp

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        np.multiply(x, y, out=out)
        if value == -1:  # a subtraction: one pass fewer
            np.subtract(base, out, out=out)
        else:
            out *= value
            out += base

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        np.divide(x, y, out=tmp)
        if value != 1:
            tmp *= value
        a += tmp

    def sqrt_into(self, x: Any, out: Any) -> None:
        np.sqrt(x, out=out)

    def maximum_(self, a: Any, b: Any) -> None:
        np.maximum(a, b, out=a)

    def clip_(self, a: Any, low: float, high: float) -> None:
        np.clip(a, low, high, out=a)


class _TorchKernels(UpdateKernels):
    """PyTorch: its fused in-place methods and ``out=`` functions; nothing is allocated."""

    def __init__(self, xp: Namespace) -> None:
        import torch

        super().__init__(xp)
        self.torch = torch

    def add_(self, a: Any, x: Any, alpha: float, tmp: Any) -> None:
        a.add_(x, alpha=alpha)

    def add_into(self, x: Any, y: Any, alpha: float, out: Any) -> None:
        self.torch.add(x, y, alpha=alpha, out=out)

    def lerp_(self, a: Any, end: Any, weight: float, tmp: Any) -> None:
        a.lerp_(end, weight)

    def addcmul_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        a.addcmul_(x, y, value=value)

    def addcmul_into(self, base: Any, x: Any, y: Any, value: float, out: Any) -> None:
        self.torch.addcmul(base, x, y, value=value, out=out)

    def addcdiv_(self, a: Any, x: Any, y: Any, value: float, tmp: Any) -> None:
        a.addcdiv_(x, y, value=value)

    def sqrt_into(self, x: Any, out: Any) -> None:
        self.torch.sqrt(x, out=out)

    def maximum_(self, a: Any, b: Any) -> None:
        self.torch.maximum(a, b, out=a)

    def clip_(self, a: Any, low: float, high: float) -> None:
        a.clamp_(low, high)


_NUMPY_KERNELS = _NumpyKernels(np)
_KERNELS: dict[type, UpdateKernels] = {np.ndarray: _NUMPY_KERNELS}


def update_kernels(array: Any) -> UpdateKernels:
    """The `UpdateKernels` for ``array``'s library (one table per array type, cached).

    Raises
    ------
    TypeError
        ``array`` is not an array of a library minigrad knows (as `namespace`).
    """
    kernels = _KERNELS.get(type(array))
    if kernels is None:
        xp = namespace(array)
        table = _TorchKernels if _library(array) == "torch" else UpdateKernels
        kernels = _KERNELS[type(array)] = _NUMPY_KERNELS if xp is np else table(xp)
    return kernels


def assign(target: Any, values: np.ndarray[Any, Any]) -> None:
    """``target[...] = values`` for a NumPy ``values`` of ``target``'s shape and dtype,
    in place in ``target``'s library and device (so references to it stay valid)."""
    if type(target) is np.ndarray:
        np.copyto(target, values)
    else:
        target[...] = asarray(values, namespace(target), device(target))


def vector_norm(array: Any, ord: float) -> float:
    """The ``ord``-norm of all of ``array``'s entries (0 for an empty array), as a float:
    ``max |x|`` for ``ord=inf``, else ``(Σ |x|^ord)^(1/ord)``, in ``array``'s dtype."""
    if math.prod(array.shape) == 0:
        return 0.0
    if type(array) is np.ndarray:
        return float(np.linalg.norm(array.ravel(), ord=ord))
    return float(namespace(array).linalg.vector_norm(array, ord=ord))


# -- window kernels (convolution, pooling): writing into slices ------------------------
# (`update_slice`: NumPy's ufunc ``out=`` into a slice; `zeros_in_layout`: its layout)

__all__ += ["update_slice", "zeros_in_layout"]


def zeros_in_layout(shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """Zeros of ``shape`` and ``dtype`` on ``like``'s library and device.

    On NumPy they are laid out as ``like`` is: channel-major ``(C, N, ...)`` memory
    behind an ``(N, C, ...)`` view when ``like`` is one (the conv layers' outputs are),
    so a pooling layer's gradient keeps the layout the conv's next matrix product wants
    (no transposing copy there). Other libraries: their default (C) order.
    """
    if type(like) is np.ndarray:
        if like.ndim > 1 and like.strides[1] > like.strides[0]:
            swapped = np.zeros((shape[1], shape[0], *shape[2:]), dtype)
            return swapped.swapaxes(0, 1)
        return np.zeros(shape, dtype)
    return namespace(like).zeros(shape, dtype=dtype, device=device(like))


def update_slice(dst: Any, index: tuple[Any, ...], op: str,
           value: Any, mask: Any = None) -> None:
    """``dst[index] = op(dst[index], value)`` in place -- ``op`` ``"add"``, ``"maximum"``
    (NaN-propagating) or ``"assign"`` (``dst[index] = value``); with a boolean ``mask``,
    ``value · mask`` (in ``dst``'s dtype) takes ``value``'s place.

    On NumPy the ufunc writes straight into the slice with ``out=``, no temporary; the
    standard has no ``out=``, so other libraries compute into one and assign it.
    """
    if type(dst) is np.ndarray:
        view = dst[index]
        if mask is not None:
            if op == "assign":
                np.multiply(value, mask, dtype=dst.dtype, out=view)
                return
            value = np.multiply(value, mask, dtype=dst.dtype)
        if op == "assign":
            view[...] = value
        else:
            (np.add if op == "add" else np.maximum)(view, value, out=view)
        return
    xp = namespace(dst)
    if mask is not None:
        value = xp.astype(mask, dst.dtype) * value
    dst[index] = value if op == "assign" else getattr(xp, op)(dst[index], value)



# -- kernels of the sequence layers (embeddings, recurrence) ------------------------------
# (appended, with their own __all__ line, to keep merges of this file clean)

__all__ += ["compute_into", "scatter_add_rows"]


def compute_into(target: Any, key: Any, op: str, *args: Any) -> None:
    """``target[key] = op(*args)`` for an elementwise function of the standard named
    ``op`` (``"multiply"``, ``"tanh"``, ``"subtract"``, ...).

    NumPy's ufunc writes straight into the view ``target[key]`` (``out=``: no
    temporary), which is what a recurrent cell's step is made of; other libraries
    assign a temporary, since the standard has no ``out=`` and leaves undefined whether
    writing into a view reaches the array it came from. ``key`` is any standard index,
    e.g. ``np.s_[t, :, :h]``.
    """
    if type(target) is np.ndarray:
        getattr(np, op)(*args, out=target[key])
    else:
        target[key] = getattr(namespace(target), op)(*args)


def scatter_add_rows(target: Any, rows: Any, values: Any) -> None:
    """``target[rows[k]] += values[k]`` for every ``k``, repeated rows summed, in place
    (the gradient of a row lookup, ``y = target[rows]``).

    NumPy: sorting the rows groups the repeats, so one ``add.reduceat`` sums each
    group -- no Python loop over ids and no ``np.add.at`` (measured, 2048 ids of width
    64, float32, 1 thread: 0.3-0.6 ms for this, 1.2-2.4 ms for ``add.at``, 0.55 ms for a
    one-hot product over 100 ids but 75 ms over 10,000). PyTorch: ``index_add_``.
    Otherwise the standard's only form: a one-hot matrix ``(len(rows), len(target))``
    times ``values``, a product that grows with the table (fine for the small tables
    of the strict reference, slow for large vocabularies).
    """
    if type(target) is np.ndarray:
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_rows[1:] != sorted_rows[:-1])))
        target[sorted_rows[starts]] += np.add.reduceat(values[order], starts, axis=0)
    elif _library(target) == "torch":
        target.index_add_(0, rows, values)
    else:
        xp = namespace(target)
        ids = xp.arange(target.shape[0], dtype=rows.dtype, device=device(target))
        one_hot = xp.astype(rows[:, None] == ids[None, :], values.dtype)
        target += one_hot.T @ values
