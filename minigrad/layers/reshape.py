"""`Flatten`, `Unflatten` and `Reshape`: change the sample shape of a batch, keeping its
values.

Each is a view when the input's memory allows (a copy otherwise), and backward reshapes
the gradient back: ``dL/dx = reshape(G, x.shape)``. None touches the batch axis (0):
PyTorch's ``Flatten(0, ...)`` and ``Unflatten(0, ...)`` would change the number of
samples, which a minigrad layer never does, so those are refused.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, TypeGuard

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, Layer, as_batch, as_grad

ShapeSpec = tuple[tuple[int, ...], tuple[int, ...], np.dtype[Any]]
"""Input shape, output shape and dtype of the latest forward."""


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _sizes(owner: str, name: str, sizes: object) -> tuple[int, ...]:
    """``sizes`` as a tuple of ints >= 1 with at most one -1 (inferred), else
    `ValueError` naming ``owner`` and ``name``."""
    if (
        not isinstance(sizes, (tuple, list))
        or not sizes
        or any(not _is_int(d) or not (d >= 1 or d == -1) for d in sizes)
        or list(sizes).count(-1) > 1
    ):
        raise ValueError(f"{owner}: {name} must be ints >= 1 with at most one -1, "
                         f"got {sizes!r}")
    return tuple(int(d) for d in sizes)


def _filled(sizes: tuple[int, ...], count: int) -> tuple[int, ...] | None:
    """``sizes`` with its -1 (if any) inferred so that they hold ``count`` values, as
    NumPy's ``reshape``; None if they cannot."""
    known = -math.prod(sizes)
    if -1 in sizes and known > 0 and count % known == 0:
        sizes = tuple(count // known if d == -1 else d for d in sizes)
    return sizes if math.prod(sizes) == count else None


def _sample_axis(owner: str, name: str, value: object) -> int:
    """``value`` as an int axis other than 0 (the batch axis), else `ValueError`."""
    if not _is_int(value) or value == 0:
        raise ValueError(f"{owner}: {name} must be an int other than 0 (the batch axis "
                         f"stays; negative axes count from the end), got {value!r}")
    return int(value)


class _Reshaping(Layer[ShapeSpec]):
    @abstractmethod
    def _output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The output's shape for an input of shape ``shape`` (the batch axis kept)."""

    @override
    def forward(self, x: Array) -> Array:
        x = as_batch(self, x)
        in_shape = tuple(x.shape)
        out_shape = self._output_shape(in_shape)
        self.cache = (in_shape, out_shape, x.dtype)
        y: Array = backend.namespace(x).reshape(x, out_shape)
        return y

    @override
    def backward(self, grad_out: Array) -> Array:
        in_shape, out_shape, dtype = self.saved()
        g = as_grad(self, grad_out, out_shape, dtype)
        grad: Array = backend.namespace(g).reshape(g, in_shape)
        return grad


class Flatten(_Reshaping):
    """The axes ``start_dim`` to ``end_dim`` (both included) into one, in C order, as
    ``torch.nn.Flatten``. By default every sample axis:
    ``(N, d_1, ..., d_k) -> (N, d_1 · ... · d_k)`` (as PyTorch's ``Flatten()`` and
    NCHW -- so a `Dense` after it matches a PyTorch model's ``Linear`` weights,
    transposed); ``Flatten(2)`` on ``(N, C, H, W)`` gives ``(N, C, H·W)``.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    start_dim, end_dim : int, default 1 and -1
        The first and last axes merged; negative ones count from the end. Neither may
        be (or, for the input's rank, resolve to) the batch axis 0, and ``start_dim``
        must not come after ``end_dim``.

    Raises
    ------
    ValueError
        From the constructor: an axis that is not an int or is 0, or ``start_dim``
        after ``end_dim`` (when that is known without the rank); from ``forward``:
        axes the input does not have as sample axes, in that order. Otherwise (both
        naming the layer), an input that is not a non-empty real batch of rank >= 2, or
        a gradient not of the output's shape.
    TypeError
        A non-real input or gradient.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Flatten()(np.zeros((2, 3, 4, 4))).shape
    (2, 48)
    >>> mg.Flatten(start_dim=2)(np.zeros((2, 3, 4, 4))).shape
    (2, 3, 16)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim = _sample_axis("Flatten", "start_dim", start_dim)
        self.end_dim = _sample_axis("Flatten", "end_dim", end_dim)
        if (self.start_dim > 0) == (self.end_dim > 0) and self.start_dim > self.end_dim:
            raise ValueError(f"Flatten: start_dim ({start_dim}) must not come after "
                             f"end_dim ({end_dim})")

    @override
    def _output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        rank = len(shape)
        start, end = self.start_dim % rank, self.end_dim % rank
        if not (-rank < self.start_dim < rank and -rank < self.end_dim < rank
                and 0 < start <= end):
            raise ValueError(f"{self!r} cannot flatten sample axes {self.start_dim} to "
                             f"{self.end_dim} of an input of shape {shape}")
        return (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])

    @override
    def extra_repr(self) -> str:
        if (self.start_dim, self.end_dim) == (1, -1):
            return ""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(_Reshaping):
    """Axis ``dim`` split into ``unflattened_size``, in C order, as
    ``torch.nn.Unflatten``: ``(N, ..., d, ...) -> (N, ..., s_1, ..., s_k, ...)`` with
    ``s_1 · ... · s_k = d``; one size may be -1, inferred.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    dim : int
        The axis split; not the batch axis (0); negative counts from the end.
    unflattened_size : tuple of int
        Its new sizes: ints >= 1, at most one -1.

    Raises
    ------
    ValueError
        From the constructor: a bad ``dim`` or ``unflattened_size``; from ``forward``:
        an input without axis ``dim`` or whose size there does not fit the sizes;
        otherwise as `Flatten`.
    TypeError
        A non-real input or gradient.
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Unflatten(1, (2, -1))(np.zeros((5, 12))).shape
    (5, 2, 6)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        self.dim = _sample_axis("Unflatten", "dim", dim)
        self.unflattened_size = _sizes("Unflatten", "unflattened_size", unflattened_size)

    @override
    def _output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        rank = len(shape)
        axis = self.dim % rank
        sizes = _filled(self.unflattened_size, shape[axis]) if -rank < self.dim < rank \
            and axis > 0 else None
        if sizes is None:
            raise ValueError(f"{self!r} cannot split axis {self.dim} of an input of shape "
                             f"{shape} into {self.unflattened_size}")
        return (*shape[:axis], *sizes, *shape[axis + 1:])

    @override
    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Reshape(_Reshaping):
    """``(N, *in_sample) -> (N, *sample_shape)``, same values in C order; one size may be
    -1, inferred as in NumPy.

    Cache: the input's and output's shapes and the dtype.

    Parameters
    ----------
    *sample_shape : int
        The output's shape without the batch axis: sizes >= 1, at most one -1.

    Raises
    ------
    ValueError
        A bad ``sample_shape`` (constructor); a sample whose size does not fit it;
        otherwise as `Flatten`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Reshape(1, 8, 8)(np.zeros((5, 64))).shape
    (5, 1, 8, 8)
    """

    def __init__(self, *sample_shape: int) -> None:
        self.sample_shape = _sizes("Reshape", "sample_shape", sample_shape)

    @override
    def _output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        sample, size = shape[1:], math.prod(shape[1:])
        filled = _filled(self.sample_shape, size)
        if filled is None:
            raise ValueError(f"{self!r} cannot reshape samples of shape {sample} ({size} "
                             f"values) to {self.sample_shape}")
        return (shape[0], *filled)

    @override
    def extra_repr(self) -> str:
        return ", ".join(map(str, self.sample_shape))
