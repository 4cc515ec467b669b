"""What `fit` needs from a data-parallel strategy: the `ParallelStrategy` and `ParallelRun`
protocols (``fit(..., data_parallel=strategy)``).

`fit` knows nothing of processes: given a strategy, it asks ``strategy.begin(...)`` for
a `ParallelRun` of this call and consults it -- for the epoch's batches, the gradients
and batch loss after each backward, the epoch's metrics and the validation logs. The
strategy lives above training, in `minigrad.distributed` (`DataParallel`, on
``torch.distributed``), and plugs in here without `fit` importing it::

    from minigrad.distributed import DataParallel
    mg.fit(model, loss_fn, optimizer, X, y, epochs=10, data_parallel=DataParallel())

A strategy of your own satisfies the protocols structurally (no base class to inherit);
``mypy --strict`` checks it where you annotate it as a `ParallelStrategy`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from minigrad.core import Array, Layer, describe
from minigrad.init import RNG
from minigrad.losses.loss import Loss
from minigrad.optim import Optimizer

__all__ = ["ParallelRun", "ParallelStrategy", "as_strategy"]


class ParallelRun(Protocol):
    """One data-parallel `fit` call, as `fit` consults it (made by
    `ParallelStrategy.begin`)."""

    @property
    def is_main(self) -> bool:
        """The process that shows progress and writes files (rank 0)."""
        ...

    def steps(self, batch_size: int) -> int:
        """Batches per epoch in this process (the same in every process)."""
        ...

    def batches(self, X: Array, y: Array, batch_size: int, shuffle: bool,
                rng: RNG | None) -> Iterator[tuple[Array, Array]]:
        """This process's batches of the next epoch; ``rng`` is None without shuffling."""
        ...

    def reduce_gradients(self, loss: float) -> float:
        """After a batch's backward: combine the gradients across the processes, and
        return the global batch loss."""
        ...

    def combine_metrics(self, logs: Mapping[str, float]) -> dict[str, float]:
        """An epoch's training logs (``"loss"`` already global) combined across the
        processes."""
        ...

    def evaluate(self, evaluate: Callable[[Array, Array], dict[str, float]], X: Array,
                 y: Array, keys: Sequence[str]) -> dict[str, float]:
        """The validation logs ``keys`` of ``(X, y)``, given ``evaluate``: the
        single-process evaluation of a part of it."""
        ...


@runtime_checkable
class ParallelStrategy(Protocol):
    """What ``fit(..., data_parallel=...)`` takes: e.g.
    ``minigrad.distributed.DataParallel()``."""

    def begin(
        self,
        model: Layer[Any],
        optimizer: Optimizer,
        loss_fn: Loss[Any],
        X: Array,
        y: Array,
        *,
        batch_size: int,
        epochs: int,
        shuffle: bool,
        validation: tuple[Array, Array] | None,
    ) -> ParallelRun:
        """Prepare this `fit` call (checked, ``X`` and ``y`` the whole dataset) before
        its first epoch; called once, after `fit` checked its arguments."""
        ...


def as_strategy(value: object) -> ParallelStrategy | None:
    """``fit``'s ``data_parallel`` checked: None, or an object with a ``begin`` method.

    Raises
    ------
    TypeError
        Anything else -- a bool included (``data_parallel=True`` would need `fit` to
        import `minigrad.distributed`), naming what is expected.
    """
    if value is None or (not isinstance(value, type)
                         and isinstance(value, ParallelStrategy)):
        return value
    got = repr(value) if isinstance(value, (bool, int, float, str)) else describe(value)
    raise TypeError(
        "fit: data_parallel must be None or a data-parallel strategy such as "
        "minigrad.distributed.DataParallel() (from minigrad.distributed import "
        f"DataParallel), got {got}")
