"""Where `fit`, its validation and `predict` take their batches from: arrays, a map-style
dataset, or an iterable of batches.

* Arrays ``X``, ``y`` (and ``sample_weight``): cut into `batches`, shuffled each epoch.
* A **map-style dataset** -- an object with ``__len__`` and ``__getitem__(i)`` returning
  one sample ``(x, y)`` or ``(x, y, sample_weight)``, as a PyTorch ``Dataset``: `fit`
  draws the indices (shuffled from its ``rng``), fetches the samples -- with one
  ``__getitems__(indices)`` call when the dataset has it (PyTorch's batched fetch: a list
  of samples), else one ``__getitem__`` per index -- and stacks each field along a new
  first axis (``np.stack``, or the library's ``stack`` for its arrays).
* An **iterable of batches** -- each ``(xb, yb)`` or ``(xb, yb, wb)``: a generator, a
  PyTorch ``DataLoader``, a class whose ``__iter__`` yields batches. A re-iterable object
  starts over each epoch; a one-shot iterator (a generator) is drawn on from where the
  previous epoch stopped, so with several epochs it needs ``steps_per_epoch`` (refused
  without). An epoch is ``steps_per_epoch`` batches, or without it the whole iteration.
  When the data runs out before ``steps_per_epoch`` batches, the epoch ends there and
  training stops with a warning (Keras's "ran out of data").

A Python list or tuple is an array-like (as before), never a dataset; a dict is refused.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol

import numpy as np

from minigrad import backend
from minigrad.core import Array, check_count
from minigrad.init import RNG
from minigrad.training.data import as_dataset, check_data, iterate_rows
from minigrad.training.weights import check_sample_weight

__all__ = ["Batch", "Source", "data_kind", "input_batches", "make_source"]

Batch = tuple[Array, Array, Array | None]
"""``(xb, yb, wb)``: a batch's inputs, targets and sample weights (None: unweighted)."""


class MapDataset(Protocol):
    """A map-style dataset: ``len(dataset)`` samples, ``dataset[i]`` the ``i``-th."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def data_kind(data: object, owner: str = "fit") -> Literal["arrays", "map", "iterable"]:
    """What ``data`` is: arrays (or array-likes, lists included), a map-style dataset
    (``__len__`` and ``__getitem__``), or an iterable of batches; a dict is refused
    (TypeError naming ``owner``)."""
    if isinstance(data, Mapping):
        raise TypeError(f"{owner}: X must be arrays, a dataset (__len__ and __getitem__ by "
                        f"index) or an iterable of batches, got a {type(data).__name__}")
    foreign_array = backend.is_foreign(data) and hasattr(data, "shape")  # not a torch Dataset
    if (foreign_array or isinstance(data, (np.ndarray, list, tuple, str, bytes))
            or hasattr(data, "__array__") or hasattr(data, "__array_interface__")
            or (not hasattr(data, "__iter__") and not hasattr(data, "__getitem__"))):
        return "arrays"
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return "map"
    return "iterable"


def _batch_array(owner: str, what: str, value: object) -> Array:
    """One field of a fetched batch as an array of its library (NumPy for array-likes)."""
    if backend.is_foreign(value):
        return value  # type: ignore[return-value]
    try:
        return np.asarray(value)
    except ValueError as exc:
        raise ValueError(f"{owner}: {what} is ragged: {exc}") from None


def _stacked(values: list[Any]) -> Array:
    """The samples ``values`` stacked along a new first axis, in their library."""
    if backend.is_foreign(values[0]):
        stacked: Array = backend.namespace(*values).stack(values, axis=0)
        return stacked
    return np.stack([np.asarray(value) for value in values])


class Source:
    """An epoch's batches ``(xb, yb, wb)``; ``steps`` is their number (None: unknown),
    ``exhausted`` True once a source ran out of data before ``steps`` batches."""

    steps: int | None
    exhausted = False

    def epoch(self, rng: RNG | None) -> Iterator[Batch]:
        """The next epoch's batches (shuffled by ``rng`` where the source shuffles)."""
        raise NotImplementedError


class ArraySource(Source):
    """Arrays, checked by `make_source`, cut into `batches`."""

    def __init__(self, X: Array, y: Array, weight: Array | None, size: int) -> None:
        self.arrays = (X, y) if weight is None else (X, y, weight)
        self.size = size
        self.steps = math.ceil(X.shape[0] / size)

    def epoch(self, rng: RNG | None) -> Iterator[Batch]:
        order = None if rng is None else rng.permutation(self.arrays[0].shape[0])
        for batch in iterate_rows(self.arrays, self.size, order):
            yield batch[0], batch[1], batch[2] if len(batch) == 3 else None


class MapSource(Source):
    """A map-style dataset, batched by index."""

    def __init__(self, owner: str, dataset: MapDataset, size: int, finite: bool) -> None:
        length = len(dataset)
        if length == 0:
            raise ValueError(f"{owner}: the dataset is empty (len 0)")
        self.owner, self.dataset, self.size, self.finite = owner, dataset, size, finite
        self.length = length
        self.steps = math.ceil(length / size)

    def fetch(self, indices: Array) -> list[Any]:
        """The samples at ``indices``: one ``__getitems__`` call where the dataset has it."""
        getitems = getattr(self.dataset, "__getitems__", None)
        listed = indices.tolist()
        items = getitems(listed) if callable(getitems) else [self.dataset[i] for i in listed]
        if len(items) != len(listed):
            raise ValueError(f"{self.owner}: the dataset's __getitems__ returned {len(items)} "
                             f"samples for {len(listed)} indices")
        return list(items)

    def epoch(self, rng: RNG | None) -> Iterator[Batch]:
        order = np.arange(self.length) if rng is None else rng.permutation(self.length)
        for start in range(0, self.length, self.size):
            indices = order[start : start + self.size]
            items = self.fetch(indices)
            fields = len(items[0]) if isinstance(items[0], (tuple, list)) else 0
            for index, item in zip(indices, items):
                if not isinstance(item, (tuple, list)) or len(item) not in (2, 3) or (
                        len(item) != fields):
                    raise TypeError(
                        f"{self.owner}: each dataset item must be a pair (x, y) or a triple "
                        f"(x, y, sample_weight), all alike; item {int(index)} is "
                        f"{_described(item)}")
            columns = [_stacked([item[k] for item in items]) for k in range(fields)]
            yield check_batch(self.owner, columns, f"the samples {indices[:3].tolist()}...",
                              self.finite)


class IterableSource(Source):
    """An iterable of batches (module docstring): re-iterated each epoch, or one
    iterator drawn on across epochs."""

    def __init__(self, owner: str, data: Iterable[Any], steps: int | None, epochs: int,
                 finite: bool, steps_name: str) -> None:
        self.owner, self.data, self.limit, self.finite = owner, data, steps, finite
        self.one_shot = isinstance(data, Iterator)
        if self.one_shot and steps is None and epochs > 1:
            raise ValueError(
                f"{owner}: the data is a one-shot iterator ({type(data).__name__}) and "
                f"epochs={epochs}: it would be used up by the first epoch; pass "
                f"{steps_name} (the batches per epoch, drawn from it in turn), or an "
                "object whose __iter__ starts over each epoch (a DataLoader, a class "
                "whose __iter__ yields the batches)")
        try:
            length: int | None = len(data)  # type: ignore[arg-type]
        except TypeError:
            length = None
        self.steps = steps if steps is not None else length

    def epoch(self, rng: RNG | None) -> Iterator[Batch]:
        iterator = self.data if self.one_shot else iter(self.data)
        drawn = 0
        for drawn, batch in enumerate(itertools.islice(iterator, self.limit), 1):
            if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
                raise TypeError(f"{self.owner}: each batch must be a pair (xb, yb) or a "
                                f"triple (xb, yb, sample_weight), batch {drawn} is "
                                f"{_described(batch)}")
            yield check_batch(self.owner, list(batch), f"batch {drawn}", self.finite)
        if self.limit is not None and drawn < self.limit:
            self.exhausted = True


def _described(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def check_batch(owner: str, fields: list[Any], what: str, finite: bool) -> Batch:
    """A fetched batch's fields as arrays of equal length, real (finite) values and valid
    sample weights; a ValueError or TypeError naming ``what`` otherwise."""
    xb, yb = as_dataset(f"{owner} ({what})", fields[0], fields[1])
    for name, array in (("x", xb), ("y", yb)):
        check_data(f"{owner} ({what})", name, array, finite=finite)
    weight = None if len(fields) == 2 else check_sample_weight(
        f"{owner} ({what})", _batch_array(owner, "sample_weight", fields[2]), xb.shape[0])
    return xb, yb, weight


def batch_size_for(owner: str, batch_size: object, data: object, default: int) -> int:
    """``batch_size`` checked against ``data``: an int >= 1 for arrays and a dataset
    (``default`` when None); with an iterable of batches it must be None -- its batches
    are taken as they come, and a size given there would be silently ignored.

    Raises
    ------
    ValueError
        ``batch_size`` not an int >= 1, or given with an iterable of batches.
    """
    if batch_size is None:
        return default
    size = check_count(owner, "batch_size", batch_size, 1)
    if data_kind(data, owner) == "iterable":
        raise ValueError(f"{owner}: batch_size is for arrays or a dataset; an iterable of "
                         f"batches ({type(data).__name__}) gives its batches as they come, "
                         f"got batch_size={size}")
    return size


def make_source(owner: str, X: object, y: object, sample_weight: object, *, batch_size: int,
                steps: int | None, epochs: int, finite: bool,
                steps_name: str = "steps_per_epoch") -> Source:
    """``fit``'s data (or validation data) as a `Source`, checked before any work.

    Raises
    ------
    ValueError, TypeError
        Arrays: as `fit` documents (lengths, dtypes, non-finite values, bad
        ``sample_weight``). A dataset or iterable given with ``y`` or ``sample_weight``
        (its items carry them), ``steps`` with arrays or a dataset, ``steps`` not an
        int >= 1, an empty dataset, a one-shot iterator for several epochs without
        ``steps``, a dict.
    """
    kind = data_kind(X, owner)
    if steps is not None:
        steps = check_count(owner, steps_name, steps, 1)
        if kind != "iterable":
            raise ValueError(f"{owner}: {steps_name} is for an iterable of batches (a "
                             "generator); with arrays or a dataset an epoch is every "
                             "sample once")
    if kind == "arrays":
        if y is None:
            raise TypeError(f"{owner}: y is missing: pass targets y with the arrays X (or a "
                            "dataset or an iterable of batches as X, without y)")
        arrays = as_dataset(owner, X, y)  # type: ignore[arg-type]
        if arrays[0].shape[0] == 0:
            raise ValueError(f"{owner}: the data is empty")
        for name, array in zip("Xy", arrays):
            check_data(owner, name, array, finite=finite)
        weight = None if sample_weight is None else check_sample_weight(
            owner, _batch_array(owner, "sample_weight", sample_weight), arrays[0].shape[0])
        if weight is not None and not backend.same_place(weight, arrays[0]) and (
                backend.is_foreign(weight) or backend.is_foreign(arrays[0])):
            raise TypeError(f"{owner}: sample_weight is {backend.describe(weight)} and X is "
                            f"{backend.describe(arrays[0])}; pass both of one library and "
                            "device")
        return ArraySource(*arrays, weight, batch_size)
    what = "a dataset" if kind == "map" else "an iterable of batches"
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise TypeError(f"{owner}: {name} must be None when X is {what} "
                            f"({type(X).__name__}): its items carry the targets and "
                            "sample weights, as (x, y) or (x, y, sample_weight)")
    if kind == "map":
        return MapSource(owner, X, batch_size, finite)  # type: ignore[arg-type]
    return IterableSource(owner, X, steps, epochs, finite,  # type: ignore[arg-type]
                          steps_name)


def input_batches(owner: str, data: object, batch_size: int, steps: int | None
                  ) -> Iterator[Array]:
    """`predict`'s input batches from a dataset or an iterable: a sample or batch that is
    a tuple or list gives its first field (``(x, y)`` pairs), anything else is ``x``."""
    kind = data_kind(data, owner)
    if kind == "map":
        dataset: Any = data
        source = MapSource(owner, dataset, batch_size, finite=False)
        for start in range(0, source.length, batch_size):
            items = source.fetch(np.arange(start, min(start + batch_size, source.length)))
            yield _stacked([item[0] if isinstance(item, (tuple, list)) else item
                            for item in items])
        return
    iterable: Any = data
    for batch in itertools.islice(iterable, steps):
        yield _batch_array(owner, "a batch", batch[0] if isinstance(batch, (tuple, list))
                           else batch)
