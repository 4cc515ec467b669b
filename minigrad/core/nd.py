"""Input checks for the layers that take N-D batches (normalization, embeddings,
recurrence, attention): `as_nd` is `as_batch` for any rank.

Every check raises `TypeError`/`ValueError` naming the layer (its repr), what it
expected and what it got.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from minigrad.core.checks import validate_input
from minigrad.core.module import Module
from minigrad.core.parameter import Array


def as_nd(
    layer: Module[Any],
    x: object,
    *,
    expected: str,
    ndims: Collection[int],
    sizes: Mapping[int, int] | None = None,
    dtype: np.dtype[Any] | None = None,
    like: Array | None = None,
) -> Array:
    """Validate ``x`` and return it as a floating array (`base.validate_input`, the
    check behind `as_batch`, with a rank-and-sizes shape rule).

    Parameters
    ----------
    layer : Module
        Named in the messages.
    x : array_like
        The input; any real dtype, any array library (see ``like``).
    expected : str
        The accepted shape in words, for messages: ``"(N, T, 8)"``.
    ndims : collection of int
        The accepted ranks.
    sizes : mapping axis -> int, optional
        Required sizes along some axes (negative axes count from the end).
    dtype : floating dtype, optional
        Compute in this dtype (the layer's); otherwise keep a floating input's dtype
        and turn bool/int into float64.
    like : array, optional
        The layer's parameter: ``x`` must be of its library and device (mixing is
        refused, never copied), and is computed in its dtype (overriding ``dtype``).

    Raises
    ------
    TypeError
        A non-real input, or one of another library or device than ``like`` (naming
        both).
    ValueError
        Another rank, a wrong size along an axis, or an empty input.
    """
    required = (sizes or {}).items()

    def fits(shape: tuple[int, ...]) -> bool:
        return len(shape) in ndims and all(shape[axis] == size for axis, size in required)

    return validate_input(layer, x, expected, fits, dtype, like)
