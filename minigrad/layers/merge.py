"""Merge layers: `Add` and `Concat` join several branches of a `Graph` into one.

Both are parameter-free merge layers (`MergeLayer`). Inputs are ``(batch, ...)``
batches of any rank >= 2 (images, sequences); they compute in the NumPy promotion of
the inputs' floating dtypes (float32 branches stay float32; bool/int inputs count as
float64), and return each
input's gradient in that dtype -- the layer upstream casts it to its own.

The inputs may be of any array library (see `minigrad.backend`), all of one library
on one device: a merge of, say, a NumPy batch and a torch tensor is refused (naming
both), never converted. The output is of the inputs' library.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from typing_extensions import override

from minigrad import backend
from minigrad.core import Array, MergeLayer, as_batch, as_grad, check_arity


def _batches(layer: MergeLayer[Any], xs: tuple[Array, ...]) -> tuple[list[Array], Any]:
    """Validate the count and each of ``xs`` (all of one library and device); return
    them and their common dtype (the standard's promotion, NumPy's for NumPy)."""
    check_arity(layer, len(xs))
    batches = [as_batch(layer, x) for x in xs]
    first = batches[0]
    for i, batch in enumerate(batches[1:], start=1):
        if not backend.same_place(batch, first):
            raise TypeError(
                f"{layer!r} got input 0 as {backend.describe(first)} and input {i} as "
                f"{backend.describe(batch)}; merge arrays of one library and device "
                "(minigrad never copies across them behind your back)"
            )
    return batches, backend.namespace(first).result_type(*batches)


def _shapes(batches: list[Array]) -> str:
    return ", ".join(str(tuple(batch.shape)) for batch in batches)


class Add(MergeLayer[tuple[tuple[int, ...], Any, int]]):
    """Elementwise sum of two or more batches of one shape: ``y = x_1 + ... + x_k``.

    Backward: ``dL/dx_i = G`` for every ``i`` -- the incoming gradient itself, once
    per input, with no copies (callers never mutate it). No broadcasting: inputs of
    different shapes are an error, not a silently stretched sum.

    Cache: the output's shape and dtype and the number of inputs.

    Raises
    ------
    ValueError
        Fewer than two inputs, an input that is not a non-empty batch of rank >= 2, inputs of
        different shapes (all are named), or a gradient not of the output's shape.
    TypeError
        A non-real input or gradient, or inputs of different array libraries or
        devices (naming the layer and both).
    RuntimeError
        ``backward`` before any ``forward``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Add()(np.ones((2, 3)), np.full((2, 3), 2.0))
    array([[3., 3., 3.],
           [3., 3., 3.]])
    """

    @override
    def forward(self, *xs: Array) -> Array:
        batches, dtype = _batches(self, xs)
        shape = tuple(batches[0].shape)
        if any(batch.shape != shape for batch in batches):
            raise ValueError(f"{self!r} expected inputs of one shape, got {_shapes(batches)}")
        xp = backend.namespace(batches[0])
        out: Array = xp.astype(batches[0], dtype, copy=False) + batches[1]  # a new array
        for batch in batches[2:]:
            out += batch
        self.cache = (shape, dtype, len(batches))
        return out

    @override
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        shape, dtype, count = self.saved()
        return (as_grad(self, grad_out, shape, dtype),) * count


_BATCH_AXIS = ("Concat: axis 0 is the batch axis; Concat joins the samples' features "
               "(axis -1, or 1 for channels), it does not stack batches")


class Concat(MergeLayer[tuple[tuple[int, ...], Any, list[int]]]):
    """Join two or more batches along ``axis``: ``y = [x_1 | x_2 | ... | x_k]``.

    With the default ``axis=-1`` the last axis is joined: ``(N, d_1), ..., (N, d_k) ->
    (N, d_1 + ... + d_k)``; ``axis=1`` on ``(N, C_i, H, W)`` images joins channels.
    Backward splits ``G`` back into the inputs' pieces (views of ``G``, no copies).

    Cache: the output's shape and dtype and the offsets where the inputs end.

    Parameters
    ----------
    axis : int, default -1
        The axis to join along, a sample axis: the inputs must have one rank, with
        ``axis`` inside it and not the batch axis 0, and agree on every other axis.
        (Joining batches would mix samples: the output's row ``i`` would no longer be
        the model's answer for input row ``i``.)

    Raises
    ------
    ValueError
        A non-int ``axis``, or ``axis=0`` (at construction); an ``axis`` outside the
        inputs' rank or one that is their batch axis (``axis=-2`` on ``(N, d)``);
        otherwise as `Add`, with inputs whose shapes disagree off ``axis`` in place of
        inputs of different shapes.
    TypeError, RuntimeError
        As `Add`.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> mg.Concat()(np.zeros((2, 1)), np.ones((2, 2)))
    array([[0., 1., 1.],
           [0., 1., 1.]])
    >>> mg.Concat(axis=1)(np.zeros((2, 3, 4, 4)), np.ones((2, 5, 4, 4))).shape
    (2, 8, 4, 4)
    """

    def __init__(self, axis: int = -1) -> None:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ValueError(f"Concat: axis must be an int, got {axis!r}")
        if axis == 0:
            raise ValueError(_BATCH_AXIS)
        self.axis = int(axis)

    @override
    def forward(self, *xs: Array) -> Array:
        batches, dtype = _batches(self, xs)
        ndim = batches[0].ndim
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"{self!r}: axis {self.axis} is outside inputs of shapes "
                             f"{_shapes(batches)}")
        axis = self.axis % ndim
        if axis == 0:
            raise ValueError(f"{self!r} on inputs of shapes {_shapes(batches)}: "
                             f"{_BATCH_AXIS}")

        def others(shape: tuple[int, ...]) -> tuple[int, ...]:
            return shape[:axis] + shape[axis + 1:]

        if any(batch.ndim != ndim or others(batch.shape) != others(batches[0].shape)
               for batch in batches):
            raise ValueError(
                f"{self!r} expected inputs that agree on every axis but {self.axis}, "
                f"got {_shapes(batches)}"
            )
        out: Array = backend.namespace(batches[0]).concat(batches, axis=axis)  # to dtype
        offsets = list(itertools.accumulate(batch.shape[axis] for batch in batches))
        self.cache = (tuple(out.shape), dtype, offsets)
        return out

    @override
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        shape, dtype, offsets = self.saved()
        grad = as_grad(self, grad_out, shape, dtype)
        axis = self.axis % len(shape)
        everything = (slice(None),) * len(shape)  # the standard wants every axis indexed
        pieces = [(*everything[:axis], slice(start, stop), *everything[axis + 1:])
                  for start, stop in zip([0, *offsets], offsets)]
        return tuple(grad[piece] for piece in pieces)

    @override
    def extra_repr(self) -> str:
        return f"axis={self.axis}"
