"""Each process's share of the data: `shard_indices` (``DistributedSampler``'s split) and
`batches` (an epoch's mini-batches of this process's shard, one order for all)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

import minigrad as mg
from minigrad.distributed._group import collective, global_rank, group_place

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup


def _count(owner: str, name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def shard_size(n: int, world_size: int, drop_last: bool = False) -> int:
    """How many samples each of ``world_size`` processes gets from ``n``:
    ``ceil(n / world_size)`` (padded), or ``floor(n / world_size)`` with ``drop_last``."""
    return n // world_size if drop_last else math.ceil(n / world_size)


def shard_indices(
    n: int,
    rank: int,
    world_size: int,
    order: npt.ArrayLike | None = None,
    drop_last: bool = False,
) -> npt.NDArray[np.int64]:
    """The sample indices process ``rank`` of ``world_size`` trains on in one epoch,
    split as PyTorch's ``DistributedSampler`` splits them.

    The epoch's order of the ``n`` indices (``order``, e.g. a permutation drawn from a
    seed all processes share; default ``0, 1, ..., n-1``) is made divisible by
    ``world_size`` -- *padded* by repeating its first indices (the default: every sample
    is seen, ``n % world_size`` of them twice), or, with ``drop_last``, *cut* after its
    last multiple of ``world_size`` -- and dealt out in turn: process ``r`` takes
    positions ``r, r + P, r + 2P, ...`` So every process gets the same number of samples
    (`shard_size`) and consecutive batches of ``B`` samples per process together form
    the consecutive blocks of ``P·B`` samples of the epoch's order: the global batches
    one process would train on with batch size ``P·B``.

    Parameters
    ----------
    n : int >= 0
    rank : int, 0 <= rank < world_size
    world_size : int >= 1
    order : array_like of int, shape ``(n,)``, optional
    drop_last : bool, default False

    Returns
    -------
    ndarray of int64, shape ``(shard_size(n, world_size, drop_last),)``

    Raises
    ------
    ValueError
        A count out of range, or ``order`` not of length ``n``.

    Examples
    --------
    >>> from minigrad.distributed import shard_indices
    >>> [shard_indices(10, r, 4).tolist() for r in range(4)]  # padded with 0, 1
    [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    >>> [shard_indices(10, r, 4, drop_last=True).tolist() for r in range(4)]
    [[0, 4], [1, 5], [2, 6], [3, 7]]
    """
    owner = "shard_indices"
    n = _count(owner, "n", n, 0)
    world_size = _count(owner, "world_size", world_size, 1)
    rank = _count(owner, "rank", rank, 0)
    if rank >= world_size:
        raise ValueError(f"{owner}: rank must be < world_size={world_size}, got {rank}")
    indices = np.arange(n, dtype=np.int64) if order is None else np.asarray(order, np.int64)
    if indices.shape != (n,):
        raise ValueError(f"{owner}: order must hold n={n} indices, got shape {indices.shape}")
    total = shard_size(n, world_size, drop_last) * world_size
    # np.resize repeats from the start, as DistributedSampler pads (even past n itself).
    padded = indices[:total] if total <= n else np.resize(indices, total)
    return padded[rank:total:world_size]


def shared_order(
    owner: str, n: int, rng: mg.init.SeedLike, group: ProcessGroup | None
) -> npt.NDArray[np.int64]:
    """A permutation of ``n`` drawn in the group's process 0 (from its ``rng``, as
    `mg.batches` draws it) and sent to all: one epoch order for every process, whatever
    their ``rng`` (a fresh, unseeded one included)."""
    rank, _ = group_place(owner, group)
    import torch.distributed as dist

    box: list[Any] = [mg.init.make_rng(rng).permutation(n) if rank == 0 else None]
    # broadcast_object_list, not a tensor broadcast: it puts the bytes on the device the
    # backend needs (a GPU for NCCL), whatever the data's library.
    with collective(owner, "broadcasting the epoch's sample order"):
        dist.broadcast_object_list(box, src=global_rank(group, 0), group=group)
    order: npt.NDArray[np.int64] = np.asarray(box[0], dtype=np.int64)
    return order


def batches(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    batch_size: int,
    *,
    shuffle: bool = True,
    rng: mg.init.SeedLike = None,
    drop_last: bool = False,
    group: ProcessGroup | None = None,
) -> Iterator[tuple[mg.Array, mg.Array]]:
    """This process's mini-batches of one epoch over ``(X, y)``: `mg.batches` for data
    parallelism.

    Every process passes the *whole* dataset (the same ``X`` and ``y``) and iterates over
    its shard (`shard_indices`) of one epoch order, in batches of ``batch_size`` -- the
    last one smaller when the shard's size is not a multiple of it, the same in every
    process. With ``shuffle`` the order is a permutation drawn in process 0 from its
    ``rng`` and sent to all (a collective: call it in every process, once per epoch);
    pass the same generator every epoch for a new order each time.

    With ``P`` processes, batch ``k`` of all processes together is batch ``k`` of
    ``mg.batches(X, y, P * batch_size)`` over the same order (when ``P`` divides the
    number of samples; otherwise the padding adds the order's first samples at the end).

    Parameters
    ----------
    X, y : array_like, shapes ``(N, ...)``
        Of NumPy or of one other array library and device.
    batch_size : int >= 1
        Samples per process and step (the global batch is ``P * batch_size``).
    shuffle : bool, default True
    rng : int, Generator or RandomState, optional
        Process 0's source of the order (the other processes' is not used).
    drop_last : bool, default False
        Cut the order to a multiple of ``P`` instead of padding it.
    group : torch.distributed.ProcessGroup, optional

    Yields
    ------
    xb, yb : arrays of ``X``'s library

    Raises
    ------
    ValueError, TypeError
        As `mg.batches`; no process group (RuntimeError).
    """
    owner = "minigrad.distributed.batches"
    size = _count(owner, "batch_size", batch_size, 1)
    X_all, y_all = _as_arrays(owner, X, y)
    n = int(X_all.shape[0])
    rank, world = group_place(owner, group)
    order = shared_order(owner, n, rng, group) if shuffle else None
    mine = shard_indices(n, rank, world, order, drop_last)
    return _iterate(X_all, y_all, mine, size)


def _as_arrays(owner: str, X: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Any, Any]:
    """``X`` and ``y`` checked as `mg.batches` checks them (which raises at the call)."""
    mg.batches(X, y, 1, shuffle=False)  # validates lengths, libraries; iterates nothing
    return (X if hasattr(X, "__array_namespace__") or _is_torch(X) else np.asarray(X),
            y if hasattr(y, "__array_namespace__") or _is_torch(y) else np.asarray(y))


def _is_torch(array: object) -> bool:
    return type(array).__module__.split(".")[0] == "torch"


def _iterate(X: Any, y: Any, indices: npt.NDArray[np.int64],
             size: int) -> Iterator[tuple[mg.Array, mg.Array]]:
    if isinstance(X, np.ndarray):
        for start in range(0, len(indices), size):
            index = indices[start : start + size]
            yield X[index], y[index]
        return
    import array_api_compat

    xp = array_api_compat.array_namespace(X)
    moved = xp.asarray(indices, device=array_api_compat.device(X))  # once per epoch
    for start in range(0, len(indices), size):
        index = moved[start : min(start + size, len(indices))]
        yield xp.take(X, index, axis=0), xp.take(y, index, axis=0)
