"""Trainable and non-trainable arrays: `Parameter`, `Buffer`, and the dtype rule for them.

Part of the base (`minigrad.core` re-exports all of it): it knows the array backends only.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from minigrad import backend

Array: TypeAlias = npt.NDArray[Any]
"""A NumPy array; minigrad computes in floating dtypes (float64 unless a layer says otherwise)."""

_REAL_KINDS = frozenset("biuf")  # bool, signed int, unsigned int, float


def _private_copy(data: npt.ArrayLike) -> Array:
    """A copy of ``data`` in its own library: the caller's array is never trained. NumPy's
    is C-ordered, so gradients can be written by matrix products with ``out=`` (which
    needs C order)."""
    if backend.is_foreign(data):  # a torch tensor, an array_api_strict array, ...
        copied: Array = backend.namespace(data).asarray(data, copy=True)
        return copied
    return np.array(data, order="C")


def check_parameter_dtype(owner: str, dtype: npt.DTypeLike) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype if parameters may have it: float32, float64 or wider.

    float16 is refused: training in it is silently wrong, not merely imprecise -- Adam's
    ``eps = 1e-8`` rounds to 0 in float16 (its smallest step is 6e-8), so a parameter
    whose gradient is zero becomes 0/0 = NaN at the first step, and any update smaller
    than 1/2048 of a weight is lost. Keep the parameters in float32 and cast the data.

    Raises
    ------
    TypeError
        What is no dtype, a dtype that is not floating, or float16; the message starts
        with ``owner``.
    """
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be a floating dtype, got {dtype!r}") from None
    if resolved.kind != "f":
        raise TypeError(f"{owner}: dtype must be a floating dtype, got {resolved}")
    if resolved.itemsize < 4:
        raise TypeError(
            f"{owner}: {resolved} is not supported, use float32 or float64: in {resolved} "
            "Adam's eps=1e-8 underflows to 0 (a zero gradient gives 0/0 = NaN at the "
            "first step) and updates below 1/2048 of a weight are lost"
        )
    return resolved


def _cast(array: Array, dtype: np.dtype[Any]) -> Array:
    """``array`` as ``dtype``: a new array of its library, on its device (C order for
    NumPy); another library's goes through the host."""
    if type(array) is np.ndarray:
        return np.array(array, dtype=dtype, order="C")
    return backend.asarray_like(backend.to_numpy(array).astype(dtype), array)  # type: ignore[no-any-return]


class _NamedArray:
    """What `Parameter` and `Buffer` share: a named array, its shape and dtype, and moving
    it to another array library."""

    __slots__ = ("data", "name")

    data: Array
    name: str

    @property
    def shape(self) -> tuple[int, ...]:
        """``data.shape``, as a tuple (whatever the array library)."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """``data.dtype``."""
        return self.data.dtype

    def to(self, xp: backend.Namespace, device: object = None) -> None:
        """Move ``data`` to the array namespace ``xp`` (see `minigrad.backend.resolve`)
        on ``device``; nothing happens if it is there. ``data`` becomes a new array:
        references to the old one no longer see updates."""
        self.data = backend.move(self.data, xp, device)

    def cast(self, dtype: np.dtype[Any]) -> None:
        """Convert ``data`` to ``dtype`` (a new array, same library and device; nothing
        happens if it has that dtype already). A `Buffer` converts floating data only:
        integer and bool buffers (counters) keep their dtype."""
        if backend.numpy_dtype(self.data.dtype) != dtype and (
                isinstance(self, Parameter) or backend.numpy_dtype(self.data.dtype).kind == "f"):
            self.data = _cast(self.data, dtype)

    def __repr__(self) -> str:
        frozen = ", requires_grad=False" if getattr(self, "requires_grad", True) is False else ""
        return (f"{type(self).__name__}({self.name!r}, shape={self.shape}, "
                f"dtype={self.dtype}{frozen})")


class Parameter(_NamedArray):
    """A trainable array and the gradient accumulated for it.

    Parameters
    ----------
    data : array_like
        The initial values, copied (C order); must have a floating dtype.
    name : str, default ""
        The label for messages.

    Attributes
    ----------
    data : ndarray
        The values. Optimizers update it *in place*, so references to it stay valid.
    grad : ndarray
        Same shape and dtype as ``data``, always the same array unless you assign
        one; ``backward`` adds to it, `zero_grad` clears it.
    name : str
        A label for messages (the attribute name it is stored under, by convention).
    requires_grad : bool
        True (the default): trained. False: *frozen* (PyTorch's name) -- backward
        accumulates no gradient into it (``grad`` stays as it was, zero after
        `zero_grad`) and optimizers skip it entirely (no update, no weight decay);
        gradients still flow *through* it to the layer's input. See
        `Module.requires_grad_`.

    Raises
    ------
    TypeError
        If ``data`` does not have a floating dtype, or has float16: Adam's
        ``eps = 1e-8`` underflows to 0 in float16, so training would turn weights into
        NaN; float32 and float64 are supported.

    Notes
    -----
    `zero_grad` is lazy, as PyTorch's ``set_to_none`` is: it only marks ``grad`` as
    zero. Reading ``grad`` fills it with zeros first, so every reader sees zeros, but
    `accumulate_matmul` -- how `Dense` adds ``x.T @ G`` -- writes its product straight
    into ``grad`` instead: one pass over the weights and one weight-sized temporary
    fewer per training step. Read ``grad`` through this attribute, not through an
    old reference to the array, to see the zeros.
    """

    __slots__ = ("_grad", "_grad_is_zero", "requires_grad")

    def __init__(self, data: npt.ArrayLike, name: str = "") -> None:
        array = _private_copy(data)
        check_parameter_dtype(f"Parameter {name!r}", backend.numpy_dtype(array.dtype))
        self.data = array
        self._grad: Array = backend.namespace(array).zeros_like(array)
        self._grad_is_zero = False  # True: _grad holds stale values that read as zero
        self.name = name
        self.requires_grad = True

    @property
    def grad(self) -> Array:
        """dL/d(data), same shape and dtype as ``data``; zeros after `zero_grad`
        (filled lazily, on first read).

        Raises
        ------
        ValueError
            On assignment: a value that is not a writable C-contiguous ndarray of
            ``data``'s shape and dtype, or one sharing memory with ``data``.
        """
        if self._grad_is_zero:
            backend.fill_zero(self._grad)
            self._grad_is_zero = False
        return self._grad

    @grad.setter
    def grad(self, value: Array) -> None:
        if type(self.data) is np.ndarray:
            bad = (
                not isinstance(value, np.ndarray)
                or (value.shape, value.dtype) != (self.data.shape, self.data.dtype)
                or not value.flags.c_contiguous
                or not value.flags.writeable
                or np.shares_memory(value, self.data)
            )
        else:  # another library's array: of data's library, device, shape and dtype
            bad = (
                not backend.same_place(value, self.data)
                or (value.shape, value.dtype) != (self.data.shape, self.data.dtype)
                or value is self.data
            )
        if bad:
            got = (getattr(value, "shape", None), getattr(value, "dtype", None))
            raise ValueError(
                f"Parameter {self.name!r}: grad must be a writable C-contiguous array of "
                f"shape {tuple(self.data.shape)} and dtype {self.data.dtype} "
                f"({backend.describe(self.data)}), separate from data; got "
                f"{backend.describe(value)} of shape {got[0]}, dtype {got[1]}"
            )
        self._grad = value
        self._grad_is_zero = False

    @property
    def size(self) -> int:
        """The number of scalars in ``data``."""
        return math.prod(self.data.shape)

    def zero_grad(self) -> None:
        """Make ``grad`` zero (lazily: see the class notes)."""
        self._grad_is_zero = True

    def accumulate_matmul(self, a: Array, b: Array) -> None:
        """``grad += a @ b`` for matrices ``a``, ``b``; right after `zero_grad`, ``grad = a @ b``
        written straight into ``grad`` (`minigrad.backend.matmul_into`).

        ``a @ b`` must have ``grad``'s shape and dtype. Nothing happens (no product is
        computed) when the parameter is frozen (``requires_grad`` False).
        """
        if not self.requires_grad:
            return
        if self._grad_is_zero:
            backend.matmul_into(a, b, self._grad)
            self._grad_is_zero = False
        else:
            self._grad += backend.matmul(a, b)

    def to(self, xp: backend.Namespace, device: object = None) -> None:
        """Move ``data`` and ``grad`` to the array namespace ``xp`` (see
        `minigrad.backend.resolve`) on ``device``; nothing happens if they are there.
        ``data`` becomes a new array: references to the old one no longer train."""
        super().to(xp, device)
        self._grad = backend.move(self._grad, xp, device)

    def cast(self, dtype: np.dtype[Any]) -> None:
        """Convert ``data`` and ``grad`` to ``dtype`` (checked by the caller with
        `check_parameter_dtype`); new arrays, as `to` makes."""
        if backend.numpy_dtype(self.data.dtype) != dtype:
            super().cast(dtype)
            self._grad = _cast(self._grad, dtype)


class Buffer(_NamedArray):
    """Non-trainable state that belongs to a module: running statistics, counters.

    A buffer is saved and loaded with the parameters (`Module.state_dict` lists it under
    its dotted path), moves with the model, and is never seen by an optimizer. It
    persists across every use of a shared layer: it is *not* part of the per-use state
    that weight sharing stashes and restores, so a layer updates it in place or by
    assigning ``buffer.data``, and every use sees the latest value.

    Parameters
    ----------
    data : array_like
        The initial values, copied (C order); any real dtype (counters may be integers).
    name : str, default ""
        The label for messages.

    Attributes
    ----------
    data : ndarray
        The values.
    name : str
        A label for messages.

    Raises
    ------
    TypeError
        If ``data`` does not have a real numeric dtype.
    """

    __slots__ = ()

    def __init__(self, data: npt.ArrayLike, name: str = "") -> None:
        array = _private_copy(data)
        if backend.numpy_dtype(array.dtype).kind not in _REAL_KINDS:
            raise TypeError(f"Buffer {name!r} needs a real numeric dtype, got {array.dtype}")
        self.data = array
        self.name = name
