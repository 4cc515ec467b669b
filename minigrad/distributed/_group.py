"""The process group: PyTorch's ``torch.distributed``, checked before use, and its failures
turned into errors that say what happened and what to do.

torch is imported by the functions here, never at import time: ``import minigrad`` and
``import minigrad.distributed`` work without it (only `shard_indices` is usable then).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.distributed import ProcessGroup

HOW_TO_START = (
    "start one in every process first: torch.distributed.init_process_group('gloo') on "
    "CPUs, ('nccl') with one GPU per process -- in processes launched by `torchrun "
    "--nproc_per_node=N script.py`, which sets RANK, WORLD_SIZE, MASTER_ADDR and "
    "MASTER_PORT (docs/distributed.md)"
)


class CollectiveError(RuntimeError):
    """A collective operation (all-reduce, broadcast, gather) of ``torch.distributed``
    failed: another process of the group died, or did not join within the group's
    timeout (``init_process_group(timeout=...)``), or the connection broke.

    Every surviving process raises it (each at its own next collective), instead of
    waiting forever; the process group is unusable afterwards -- end the processes
    and restart training (from a checkpoint). ``__cause__`` is PyTorch's own error.
    """


CollectiveError.__module__ = "minigrad.distributed"  # where users import it from


def require_torch(owner: str) -> None:
    """Raise ImportError, naming ``owner`` and the extra to install, if torch is missing."""
    if importlib.util.find_spec("torch") is None:
        raise ImportError(
            f"{owner} runs on PyTorch's torch.distributed, which is not installed: "
            'pip install "minigrad[distributed]" (install the CPU or CUDA build of torch '
            "you want first)"
        )


def group_place(owner: str, group: ProcessGroup | None) -> tuple[int, int]:
    """``(rank, world_size)`` of this process in ``group`` (None: the default group).

    Raises
    ------
    ImportError
        torch is not installed.
    RuntimeError
        torch.distributed is unavailable in this build, or no process group is
        initialized (saying how to start one).
    ValueError
        This process is not a member of ``group``.
    """
    require_torch(owner)
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError(f"{owner}: this PyTorch build has no torch.distributed; install "
                           "one that has (the builds from pytorch.org do)")
    if not dist.is_initialized():
        raise RuntimeError(f"{owner}: no torch.distributed process group is initialized; "
                           + HOW_TO_START)
    rank = dist.get_rank(group)
    if rank < 0:
        raise ValueError(f"{owner}: this process (global rank {dist.get_rank()}) is not a "
                         f"member of the group {group!r}")
    return rank, dist.get_world_size(group)


def global_rank(group: ProcessGroup | None, rank: int) -> int:
    """The global rank of ``group``'s process ``rank`` (what torch's ``src`` arguments
    take)."""
    import torch.distributed as dist

    return rank if group is None else dist.get_global_rank(group, rank)


@contextmanager
def collective(owner: str, what: str) -> Iterator[None]:
    """Turn a failing collective's error into a `CollectiveError` saying what failed and
    why it usually does (a dead or stuck process, the group's timeout)."""
    try:
        yield
    except RuntimeError as exc:  # DistBackendError, DistNetworkError... are RuntimeErrors
        if isinstance(exc, CollectiveError):
            raise
        import torch.distributed as dist

        where = (f"rank {dist.get_rank()} of {dist.get_world_size()}"
                 if dist.is_initialized() else "this process")
        raise CollectiveError(
            f"{owner}: {what} failed in {where}: another process of the group died, or "
            "did not join within the group's timeout (init_process_group(timeout=...)), "
            "or the connection broke. The group cannot be used any more: end every "
            f"process and restart (from a checkpoint). PyTorch said: {exc}"
        ) from exc
