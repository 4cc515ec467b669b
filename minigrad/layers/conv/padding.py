"""A convolution's non-zero padding modes: the padded copy of the input, and its adjoint.

``padding_mode="zeros"`` needs no copy (`minigrad.layers.conv.windows.im2col` leaves the
padding out of its slices). The other modes are PyTorch's ``F.pad`` modes, applied one
spatial axis at a time -- each is a map of input positions, so the axes compose in any
order. For an axis of size ``n`` padded by ``p`` before and ``q`` after::

    reflect    x[p], …, x[1]  | x[0], …, x[n−1] | x[n−2], …, x[n−1−q]    (p, q < n)
    replicate  x[0], …, x[0]  | x[0], …, x[n−1] | x[n−1], …, x[n−1]
    circular   x[n−p], …, x[n−1] | x[0], …, x[n−1] | x[0], …, x[q−1]       (p, q <= n)

The backward pass is the adjoint of that copy: each padded position's gradient is added
back to the input position it was copied from -- reflected bands flipped onto the
positions next to the edge, replicated bands summed onto the edge, circular bands
wrapped onto the other end. Only slices, ``flip``, ``concat`` and sums are used, so the
kernels run on every backend.
"""

from __future__ import annotations

from typing import Any

from minigrad import backend
from minigrad.core import Array

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
"""PyTorch's ``padding_mode`` values, in its order."""


def check_padding_mode(owner: str, mode: object) -> str:
    """``mode`` if it is one of `PADDING_MODES`; else a clear error naming ``owner``."""
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        raise ValueError(f"{owner}: padding_mode must be one of "
                         f"{', '.join(map(repr, PADDING_MODES))}, got {mode!r}")
    return mode


def check_pad_fits(owner: str, mode: str, size: tuple[int, ...], before: tuple[int, ...],
                   after: tuple[int, ...]) -> None:
    """PyTorch's limits: a reflection narrower than the axis, a wrap at most the axis.

    Raises
    ------
    ValueError
        A reflect padding >= the axis' size, or a circular one above it, naming
        ``owner`` and the sizes.
    """
    for n, p, q in zip(size, before, after):
        if (mode == "reflect" and max(p, q) >= n) or (mode == "circular" and max(p, q) > n):
            limit = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(f"{owner}: padding_mode={mode!r} needs padding {limit} the input "
                             f"size, got padding ({p}, {q}) on an axis of size {n}, for an "
                             f"input of spatial size {'×'.join(map(str, size))}")


def _part(a: Array, axis: int, start: int, stop: int) -> Array:
    """``a[..., start:stop, ...]`` on ``axis``, every other axis whole."""
    index: tuple[Any, ...] = (*(slice(None),) * axis, slice(start, stop), ...)
    part: Array = a[index]
    return part


def pad(x: Array, mode: str, before: tuple[int, ...], after: tuple[int, ...]) -> Array:
    """``x (N, C, *size)`` padded on its spatial axes by ``before``/``after`` in ``mode``
    (``"reflect"``, ``"replicate"`` or ``"circular"``): a new array."""
    for axis, (p, q) in enumerate(zip(before, after), start=2):
        if p or q:
            x = _pad_axis(x, mode, axis, p, q)
    return x


def _pad_axis(x: Array, mode: str, axis: int, p: int, q: int) -> Array:
    """`pad` along one axis: the low band, ``x``, the high band, joined."""
    xp, n = backend.namespace(x), x.shape[axis]
    if mode == "reflect":
        low = xp.flip(_part(x, axis, 1, p + 1), axis=axis)
        high = xp.flip(_part(x, axis, n - 1 - q, n - 1), axis=axis)
    elif mode == "replicate":
        low = xp.broadcast_to(_part(x, axis, 0, 1), (*x.shape[:axis], p, *x.shape[axis + 1:]))
        high = xp.broadcast_to(_part(x, axis, n - 1, n),
                               (*x.shape[:axis], q, *x.shape[axis + 1:]))
    else:  # circular
        low, high = _part(x, axis, n - p, n), _part(x, axis, 0, q)
    padded: Array = xp.concat((low, x, high), axis=axis)
    return padded


def pad_backward(grad: Array, mode: str, before: tuple[int, ...],
                 after: tuple[int, ...]) -> Array:
    """The adjoint of `pad`: ``grad`` of the padded array ``(N, C, *padded)`` folded
    back onto the input ``(N, C, *size)``, each band added where it was copied from."""
    for axis, (p, q) in enumerate(zip(before, after), start=2):
        if p or q:
            grad = _fold_axis(grad, mode, axis, p, q)
    return grad


def _fold_axis(grad: Array, mode: str, axis: int, p: int, q: int) -> Array:
    """`pad_backward` along one axis: the input's own positions, plus the bands."""
    xp, n = backend.namespace(grad), grad.shape[axis] - p - q
    low, high = _part(grad, axis, 0, p), _part(grad, axis, p + n, p + n + q)
    folded: Array = backend.owned_copy(_part(grad, axis, p, p + n))

    def add(start: int, stop: int, values: Array) -> None:
        index: tuple[Any, ...] = (*(slice(None),) * axis, slice(start, stop), ...)
        folded[index] = folded[index] + values

    if mode == "reflect":  # the low band came from x[p..1], the high from x[n−2..n−1−q]
        add(1, p + 1, xp.flip(low, axis=axis))
        add(n - 1 - q, n - 1, xp.flip(high, axis=axis))
    elif mode == "replicate":  # every copy of an edge adds to that edge
        add(0, 1, xp.sum(low, axis=axis, keepdims=True))
        add(n - 1, n, xp.sum(high, axis=axis, keepdims=True))
    else:  # circular: the low band came from the end, the high band from the start
        add(n - p, n, low)
        add(0, q, high)
    return folded
