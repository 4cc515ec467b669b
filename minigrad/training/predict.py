"""`predict`: a model's outputs for a dataset, in evaluation mode and in batches.

>>> import numpy as np, minigrad as mg
>>> model = mg.Sequential(mg.Dense(1, 1, rng=0))
>>> mg.predict(model, np.zeros((3, 1))).shape
(3, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Layer, check_count, describe
from minigrad.core.tree import Evaluation
from minigrad.training.sources import MapDataset, batch_size_for, data_kind, input_batches

__all__ = ["predict"]


def predict(model: Layer[Any], X: npt.ArrayLike | MapDataset | Iterable[Any],
            batch_size: int | None = None, *, steps: int | None = None) -> Array:
    """The model's outputs for ``X``, computed in evaluation mode, ``batch_size`` rows at
    a time.

    The model is left as it was: its modes, and the per-use state a pending
    ``backward`` needs (`Module.stash` before, `Module.unstash` after), so predicting
    between a forward and its backward does not change that backward.

    Parameters
    ----------
    model : Layer
    X : array_like of shape ``(N, ...)``, a dataset or an iterable of batches
        The inputs, one row per sample; or a map-style dataset (`predict_batches`), or
        an iterable of batches (a generator).
    batch_size : int >= 1, default 256
        Rows per forward; bounds the memory of the intermediate activations. Refused
        with an iterable of batches, whose batches are taken as they come.
    steps : int >= 1, optional
        For an iterable: predict on its first ``steps`` batches only (default: all).

    Returns
    -------
    array of ``X``'s library, shape ``(N, ...)``
        The outputs of all batches, in the order of ``X`` (for another library than
        NumPy joined with ``xp.concat``).

    Raises
    ------
    TypeError
        ``model`` is not a `Layer`.
    ValueError
        ``batch_size`` not an int >= 1, or ``X`` a scalar or empty.
    TypeError, ValueError, RuntimeError
        The model's errors for a bad input, as it raises them (a `Sequential` prepends
        the path to the failing layer).
    """
    check_type("predict", "model", model, Layer, "a minigrad Layer (a Sequential, a Graph, "
                "a layer)")
    if data_kind(X, "predict") != "arrays" or steps is not None:
        return predict_batches(model, X, batch_size, steps)
    data: Any = X if backend.is_foreign(X) else np.asarray(X)
    size = batch_size_for("predict", batch_size, X, 256)
    if data.ndim == 0 or data.shape[0] == 0:
        raise ValueError(
            f"predict: X must hold at least one sample, got shape {tuple(data.shape)}")
    with Evaluation(model):  # stash, mode(training=False); then unstash, modes back
        if type(data) is not np.ndarray:
            n = data.shape[0]  # stops within n: the standard leaves others unspecified
            parts = [model.forward(data[start : min(start + size, n), ...])
                     for start in range(0, n, size)]
            return parts[0] if len(parts) == 1 else backend.namespace(*parts).concat(parts)
        first = model.forward(data[:size])
        out = np.empty((len(data), *first.shape[1:]), dtype=first.dtype)
        out[: len(first)] = first
        for start in range(size, len(data), size):
            out[start : start + size] = model.forward(data[start : start + size])
    return out


def predict_batches(model: Layer[Any], data: object, batch_size: int | None,
                    steps: int | None) -> Array:
    """`predict` on a map-style dataset (``batch_size`` samples stacked per forward) or an
    iterable of batches (a generator: one pass, ``steps`` batches at most): a sample or
    batch that is a tuple or list gives its first field (``(x, y)`` pairs), anything
    else is the input itself. The outputs are joined along the first axis.

    Raises
    ------
    ValueError
        ``steps`` with arrays, or not an int >= 1; ``batch_size`` not an int >= 1; no
        batches at all.
    """
    size = batch_size_for("predict", batch_size, data, 256)
    if steps is not None:
        steps = check_count("predict", "steps", steps, 1)
        if data_kind(data, "predict") != "iterable":
            raise ValueError("predict: steps is for an iterable of batches (a generator)")
    with Evaluation(model):
        parts = [model.forward(xb) for xb in input_batches("predict", data, size, steps)]
    if not parts:
        raise ValueError(f"predict: the {type(data).__name__} gave no batches")
    if type(parts[0]) is np.ndarray:
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
    return parts[0] if len(parts) == 1 else backend.namespace(*parts).concat(parts)


def check_type(owner: str, name: str, value: object, kind: type, expected: str) -> None:
    """Refuse an argument that is not a ``kind`` at the call, rather than with an
    AttributeError deep inside the loop."""
    if not isinstance(value, kind):
        raise TypeError(f"{owner}: {name} must be {expected}, got {describe(value)}")
