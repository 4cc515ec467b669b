"""`DataParallel`: how `mg.fit` trains across processes (``fit(...,
data_parallel=DataParallel())``).

`fit` stays one loop and knows nothing of this module: given ``data_parallel``, a
`minigrad.training.parallel.ParallelStrategy`, it asks `DataParallel.begin` for a
`ParallelFit` (a `ParallelRun`) and lets it take the epoch's shard of the data, combine
the gradients and the batch loss after each backward, and combine the metrics and
validation logs of each epoch, so that every process logs the same `History`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

import minigrad as mg
from minigrad.distributed import _buckets
from minigrad.distributed._collectives import broadcast_parameters, reduce_gradients
from minigrad.distributed._data import _iterate, shard_indices, shard_size, shared_order
from minigrad.distributed._group import collective, global_rank, group_place

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

    from minigrad.training.parallel import ParallelStrategy


@dataclass(frozen=True)
class DataParallel:
    """Options of data-parallel training in `mg.fit`: ``fit(...,
    data_parallel=DataParallel(...))`` (``DataParallel()`` for the defaults), a
    `minigrad.training.parallel.ParallelStrategy`.

    Every process -- started by ``torchrun``, each having called
    ``torch.distributed.init_process_group`` -- runs the same `fit` call on the same
    whole dataset with the same model architecture. `fit` then:

    * gives every process rank 0's parameters and buffers (`broadcast_parameters`), after
      checking that the processes' models and `fit` arguments agree;
    * trains each process on its shard of every epoch (`shard_indices`: one order for
      all, drawn from rank 0's ``rng``, padded -- or cut with ``drop_last`` -- so that
      every process runs the same number of equal-sized batches); ``batch_size`` is per
      process, the global batch ``P·batch_size``;
    * after each backward, replaces the gradients by their mean over the processes (the
      sum for a loss with ``reduction="sum"``), so the step is the one a single process
      takes on the global batch, and the models stay equal;
    * logs the global batch loss, metrics averaged over the processes, and validation
      logs of the validation set split across the processes: every process's `History`
      is the same;
    * shows progress in rank 0 only, and only rank 0's `ModelCheckpoint` writes
      (`Callback.is_main_process`).

    Batch-norm statistics stay per process, as in ``DistributedDataParallel`` without
    ``SyncBatchNorm``: each process normalizes with its own batch's mean and variance
    and keeps its own running statistics (so a model with batch norm does not train
    exactly as on one process; everything else does).

    Parameters
    ----------
    group : torch.distributed.ProcessGroup, optional
        The processes training together; default: all of them.
    bucket_mb : float > 0, default 25
        The gradients' bucket size for `average_gradients`.
    drop_last : bool, default False
        Cut each epoch's order to a multiple of the process count instead of padding
        it with repeated samples (``DistributedSampler``'s ``drop_last``).
    """

    group: ProcessGroup | None = None
    bucket_mb: float = _buckets.DEFAULT_BUCKET_MB
    drop_last: bool = False

    def begin(
        self,
        model: mg.Module[Any],
        optimizer: mg.Optimizer,
        loss_fn: mg.Loss[Any],
        X: mg.Array,
        y: mg.Array,
        *,
        batch_size: int,
        epochs: int,
        shuffle: bool,
        validation: tuple[mg.Array, mg.Array] | None,
    ) -> ParallelFit:
        """Check that every process is ready to train the same way, make their models
        equal, and return the `ParallelFit` that `fit` consults. A collective.

        Raises
        ------
        RuntimeError
            No process group (saying how to start one).
        ValueError
            In every process: the processes' `fit` arguments, data or models differ
            (naming the first difference), or there are fewer samples than processes
            with ``drop_last``; a bad ``bucket_mb``.
        """
        owner = "fit (data_parallel)"
        cap = _buckets.check_cap(owner, self.bucket_mb)
        rank, world = group_place(owner, self.group)
        n = int(X.shape[0])
        facts = {
            "the number of samples": n,
            "a sample's shape in X": tuple(X.shape[1:]),
            "a sample's shape in y": tuple(y.shape[1:]),
            "a fingerprint of the data (sums of some rows of X and y)": _fingerprint(X, y),
            "batch_size": batch_size,
            "epochs": epochs,
            "shuffle": shuffle,
            "the number of validation samples": (None if validation is None
                                                 else int(validation[0].shape[0])),
            "the loss": repr(loss_fn),
            "the optimizer": type(optimizer).__name__,
            "drop_last": self.drop_last,
        }
        _check_agree(owner, facts, self.group, world)
        if shard_size(n, world, self.drop_last) == 0:
            raise ValueError(f"{owner}: {n} samples leave none for each of {world} "
                             "processes with drop_last=True")
        broadcast_parameters(model, global_rank(self.group, 0), group=self.group,
                             bucket_mb=self.bucket_mb)
        stepped = {id(param) for param in optimizer.params}
        named = [(name, param) for name, param in model.named_parameters()
                 if id(param) in stepped]
        return ParallelFit(self, rank, world, cap, named, loss_fn.reduction == "mean", n)


def _fingerprint(X: Any, y: Any) -> tuple[str, str]:
    """Sums of up to 64 evenly spaced rows of ``X`` and ``y``: equal in processes that
    hold the same data; unequal, almost surely, where each loaded a different part.
    As text, so that NaN (data unchecked, ``check_finite=False``) equals NaN."""
    rows = np.unique(np.linspace(0, X.shape[0] - 1, num=min(64, X.shape[0])).astype(np.int64))
    if isinstance(X, np.ndarray) and isinstance(y, np.ndarray):
        sums = float(np.sum(X[rows], dtype=np.float64)), float(np.sum(y[rows], dtype=np.float64))
    else:
        import array_api_compat

        xp = array_api_compat.array_namespace(X)
        index = xp.asarray(rows, device=array_api_compat.device(X))
        sums = (float(xp.sum(xp.astype(xp.take(X, index, axis=0), xp.float64))),
                float(xp.sum(xp.astype(xp.take(y, index, axis=0), xp.float64))))
    return repr(sums[0]), repr(sums[1])


def _gather(owner: str, what: str, value: object, group: ProcessGroup | None,
            world: int) -> list[Any]:
    import torch.distributed as dist

    gathered: list[Any] = [None] * world
    with collective(owner, what):
        dist.all_gather_object(gathered, value, group=group)
    return gathered


def _check_agree(owner: str, facts: Mapping[str, object], group: ProcessGroup | None,
                 world: int) -> None:
    """Refuse, in every process, `fit` calls that differ: they would shard different
    data, or wait for each other at different steps until the group's timeout."""
    gathered = _gather(owner, "comparing the processes' fit arguments", dict(facts), group,
                       world)
    for key, ours in gathered[0].items():
        for rank, theirs in enumerate(gathered):
            if theirs[key] != ours:
                raise ValueError(
                    f"{owner}: the processes called fit differently: {key} is {ours!r} in "
                    f"rank 0 but {theirs[key]!r} in rank {rank}. Every process must pass "
                    "the same arguments and the whole dataset (fit takes each process's "
                    "shard itself) to the same model.")


class ParallelFit:
    """What `fit` consults in one data-parallel run (made by `DataParallel.begin`): a
    `minigrad.training.parallel.ParallelRun`.

    Attributes
    ----------
    rank, world_size : int
        This process's rank and the number of processes.
    """

    def __init__(self, options: DataParallel, rank: int, world_size: int, cap: int,
                 named: Sequence[tuple[str, mg.Parameter]], average: bool, n: int) -> None:
        self.options, self.rank, self.world_size = options, rank, world_size
        self.cap, self.named, self.average, self.n = cap, list(named), average, n

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints and writes files."""
        return self.rank == 0

    def steps(self, batch_size: int) -> int:
        """Batches per epoch, the same in every process."""
        return math.ceil(shard_size(self.n, self.world_size, self.options.drop_last)
                         / batch_size)

    def batches(self, X: Any, y: Any, batch_size: int, shuffle: bool,
                rng: mg.init.SeedLike) -> Iterator[tuple[mg.Array, mg.Array]]:
        """This process's batches of the next epoch (a collective when shuffling)."""
        order = (shared_order("fit (data_parallel)", self.n, rng, self.options.group)
                 if shuffle else None)
        mine = shard_indices(self.n, self.rank, self.world_size, order,
                             self.options.drop_last)
        return _iterate(X, y, mine, batch_size)

    def reduce_gradients(self, loss: float) -> float:
        """After the backward of a batch: every process's gradients become their mean
        (sum, for a summed loss) over the processes; returns the global batch loss --
        the mean (sum) of the processes' -- from the same round of collectives."""
        total = reduce_gradients("fit (data_parallel)", self.named, self.options.group,
                                 self.cap, average=self.average, loss=loss)
        assert total is not None
        return total

    def combine_metrics(self, logs: Mapping[str, float]) -> dict[str, float]:
        """An epoch's training logs with each metric averaged over the processes (they
        saw equally many samples, so this is the sample-weighted mean); ``"loss"`` is
        already global."""
        gathered = _gather("fit (data_parallel)", "combining the epoch's metrics",
                           dict(logs), self.options.group, self.world_size)
        return {key: value if key == "loss"
                else math.fsum(theirs[key] for theirs in gathered) / self.world_size
                for key, value in logs.items()}

    def evaluate(self, evaluate: Callable[[Any, Any], dict[str, float]], X: Any, y: Any,
                 keys: Sequence[str]) -> dict[str, float]:
        """Validation logs of ``(X, y)`` split in contiguous parts, one per process:
        ``evaluate`` (the single-process evaluation) on this process's part, then the
        parts' logs combined -- weighted by their sizes (summed, for ``"val_loss"`` of a
        summed loss); a process with no part (fewer samples than processes) adds
        nothing."""
        n = int(X.shape[0])
        start, stop = self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size
        ours = (evaluate(X[start:stop, ...], y[start:stop, ...]) if stop > start
                else dict.fromkeys(keys, 0.0))
        gathered = _gather("fit (data_parallel)", "combining the validation logs",
                           (stop - start, ours), self.options.group, self.world_size)
        logs = {}
        for key in keys:
            if key == "val_loss" and not self.average:
                logs[key] = math.fsum(part[key] for _, part in gathered)
            else:
                logs[key] = math.fsum(size * part[key] for size, part in gathered) / n
        return logs


if TYPE_CHECKING:  # mypy --strict checks that DataParallel (and ParallelFit) plug into fit
    _STRATEGY: ParallelStrategy = DataParallel()
