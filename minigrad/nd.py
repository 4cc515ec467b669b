"""Input checks for the layers that take N-D batches (normalization, embeddings,
recurrence, attention): `as_nd` is `as_batch` for any rank.

Every check raises `TypeError`/`ValueError` naming the layer (its repr), what it
expected and what it got.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from minigrad.base import Array, Module

_REAL_KINDS = frozenset("biuf")


def as_nd(
    layer: Module[Any],
    x: object,
    *,
    expected: str,
    ndims: Collection[int],
    sizes: Mapping[int, int] | None = None,
    dtype: np.dtype[Any] | None = None,
) -> Array:
    """Validate ``x`` and return it as a floating array.

    Parameters
    ----------
    layer : Module
        Named in the messages.
    x : array_like
        The input; any real dtype.
    expected : str
        The accepted shape in words, for messages: ``"(N, T, 8)"``.
    ndims : collection of int
        The accepted ranks.
    sizes : mapping axis -> int, optional
        Required sizes along some axes (negative axes count from the end).
    dtype : floating dtype, optional
        Compute in this dtype (the layer's); otherwise keep a floating input's dtype
        and turn bool/int into float64.

    Raises
    ------
    TypeError
        A non-real input.
    ValueError
        Another rank, a wrong size along an axis, or an empty input.
    """
    array = x if type(x) is np.ndarray else _as_array(layer, x, expected)
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{layer!r} expected a real numeric input, got dtype {array.dtype}")
    if array.ndim not in ndims or any(
        array.shape[axis] != size for axis, size in (sizes or {}).items()
    ):
        raise ValueError(f"{layer!r} expected input of shape {expected}, got {array.shape}")
    if array.size == 0:
        raise ValueError(f"{layer!r} got an empty input of shape {array.shape}")
    if dtype is None:
        dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    return array.astype(dtype, copy=False)


def _as_array(layer: Module[Any], x: object, expected: str) -> Array:
    try:
        return np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{layer!r} expected input of shape {expected}: {exc}") from None
