"""Mini-batches: `batches` cuts a dataset into the pieces one training step sees.

>>> import numpy as np, minigrad as mg
>>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
>>> [yb.tolist() for _, yb in mg.batches(X, y, 2, shuffle=False)]
[[0, 1], [2, 3], [4]]

On every array library: ``X`` and ``y`` may be arrays of any one library and device
(torch tensors on a GPU, say); the batches are that library's. The shuffling order is
always drawn from the NumPy ``Generator`` and then moved, so the same ``rng`` gives the
same batches on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_count
from minigrad.init import SeedLike, make_rng


def check_batch_size(owner: str, batch_size: object) -> int:
    """``batch_size`` as an int >= 1, or a ValueError naming ``owner``."""
    return check_count(owner, "batch_size", batch_size, 1)


def as_dataset(owner: str, X: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Array, Array]:
    """``X`` and ``y`` as arrays (no copy when they already are) with one row per sample.

    ``X`` and ``y`` of another library than NumPy stay as they are; they must then be
    of one library and device.

    Raises ValueError naming ``owner`` if either is ragged (nested lists of unequal
    lengths), a scalar, or their lengths differ; TypeError if they are arrays of
    different libraries or devices (naming both).
    """
    if (backend.is_foreign(X) or backend.is_foreign(y)) and not backend.same_place(X, y):
        raise TypeError(f"{owner}: X is {backend.describe(X)} and y is {backend.describe(y)}; "
                        "pass both of one library and device (minigrad never copies across "
                        "them behind your back)")
    X, y = _as_array(owner, "X", X), _as_array(owner, "y", y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{owner}: X and y need one row per sample, got shapes "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{owner}: X and y must have the same number of samples, "
            f"got {X.shape[0]} and {y.shape[0]}"
        )
    return X, y


def _as_array(owner: str, name: str, data: npt.ArrayLike) -> Array:
    if backend.is_foreign(data):
        return data  # type: ignore[return-value]
    try:
        return np.asarray(data)
    except ValueError as exc:  # NumPy's "inhomogeneous shape" for nested lists
        raise ValueError(
            f"{owner}: {name} is ragged (rows of different lengths?), it must be one "
            f"rectangular array: {exc}"
        ) from None


def check_data(owner: str, name: str, array: Array, *, finite: bool) -> None:
    """Raise unless ``array`` (a dataset's ``X`` or ``y``, one row per sample) holds real
    numbers and, with ``finite``, no NaN or ±inf.

    The finiteness check is one vectorized pass: NaN and ±inf propagate through a sum,
    so a finite sum proves every value finite; only otherwise (or when finite values
    overflow the sum) is the element-wise mask built, to find the first bad row.

    Raises
    ------
    TypeError
        A non-real dtype (strings, objects, complex), naming ``owner`` and ``name``.
    ValueError
        A non-finite value, naming its value, row and (beyond 1-D) position in the row.
    """
    kind = backend.numpy_dtype(array.dtype).kind
    if kind not in "biuf":
        raise TypeError(f"{owner}: {name} must hold real numbers, got dtype {array.dtype}")
    if not finite or kind != "f":  # bool and int values are always finite
        return
    if type(array) is np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # inf − inf: a NaN, as wanted
            total = float(np.sum(array))
    else:
        total = float(backend.namespace(array).sum(array))
    if math.isfinite(total):
        return
    array = backend.to_numpy(array)  # the error path: find the bad row on the host
    rows = array.reshape(len(array), -1)
    bad = ~np.isfinite(rows)
    flagged = np.flatnonzero(bad.any(axis=1))
    if flagged.size == 0:  # finite values whose sum overflowed
        return
    row = int(flagged[0])
    column = int(np.argmax(bad[row]))
    if array.ndim == 1:
        where = ""
    elif array.ndim == 2:
        where = f" (column {column})"
    else:
        where = f" (index {tuple(int(i) for i in np.unravel_index(column, array.shape[1:]))})"
    raise ValueError(
        f"{owner}: {name} has a non-finite value ({rows[row, column]}) in row {row}{where}"
    )


def batches(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    batch_size: int,
    *,
    shuffle: bool = True,
    rng: SeedLike = None,
) -> Iterator[tuple[Array, Array]]:
    """Iterate over ``(X[i:j], y[i:j])`` mini-batches, every sample exactly once.

    All batches have ``batch_size`` rows except the last, which keeps the remainder
    (``N % batch_size`` rows, when not zero) rather than dropping it.

    Without shuffling the batches are views of ``X`` and ``y`` (no copy). With shuffling,
    one permutation of the sample indices is drawn (from NumPy's ``Generator``, on every
    backend) when `batches` is called and each batch is gathered from it (``xp.take``
    for arrays of other libraries, the indices moved to their device), so an epoch
    copies the data once, one batch at a time, and never holds a shuffled copy of the whole dataset.

    Parameters
    ----------
    X, y : array_like, shapes ``(N, ...)`` and ``(N, ...)``
        Inputs and targets, indexed along their first axis: NumPy array-likes, or
        arrays of one other library and device.
    batch_size : int >= 1
    shuffle : bool, default True
        Visit the samples in a random order.
    rng : int, numpy Generator or RandomState, optional
        Source of the permutation; None draws fresh OS entropy. Pass the same
        generator every epoch to get a new, reproducible order each time.

    Yields
    ------
    xb, yb : arrays of the library of ``X`` and ``y``
        The next ``batch_size`` (or, last, fewer) rows of ``X`` and of ``y``.

    Raises
    ------
    ValueError
        At the call, not on first iteration: ``batch_size`` is not an int >= 1, ``X``
        or ``y`` is a scalar, ``X`` and ``y`` differ in length, or ``rng`` is not
        usable as a seed (see `make_rng`).
    TypeError
        At the call: ``X`` and ``y`` arrays of different libraries or devices.
    """
    X, y = as_dataset("batches", X, y)
    size = check_batch_size("batches", batch_size)
    order = make_rng(rng).permutation(X.shape[0]) if shuffle else None
    # a separate generator: the errors above are raised at the call
    return iterate_rows((X, y), size, order)  # type: ignore[return-value]


def iterate_rows(arrays: tuple[Any, ...], size: int, order: Array | None
                 ) -> Iterator[tuple[Array, ...]]:
    """The mini-batches of equally long ``arrays`` (one library and device): the same
    rows of each, ``size`` at a time, in the order ``order`` (None: as stored, views)."""
    n = arrays[0].shape[0]
    if type(arrays[0]) is not np.ndarray:
        # Stops clipped to n: the standard leaves out-of-bounds slice stops unspecified.
        xp = backend.namespace(arrays[0])
        moved = None if order is None else backend.asarray(order, xp, backend.device(arrays[0]))
        for start in range(0, n, size):
            stop = min(start + size, n)
            if moved is None:
                yield tuple(array[start:stop, ...] for array in arrays)
            else:
                index = moved[start:stop]
                yield tuple(xp.take(array, index, axis=0) for array in arrays)
        return
    for start in range(0, n, size):
        if order is None:
            yield tuple(array[start : start + size] for array in arrays)
        else:
            index = order[start : start + size]
            yield tuple(array[index] for array in arrays)
