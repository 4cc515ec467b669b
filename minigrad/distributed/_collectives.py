"""`broadcast_parameters` and `average_gradients`: the two collectives of data-parallel
training, on the process group the user started with ``init_process_group``."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import minigrad as mg
from minigrad.distributed import _buckets
from minigrad.distributed._group import collective, group_place

if TYPE_CHECKING:
    import torch
    from torch.distributed import ProcessGroup

Entry = tuple[str, str, tuple[int, ...], str, str]
"""One line of a model's signature: kind ("parameter"/"buffer"), name, shape, dtype,
device type."""

ModelOrParams: TypeAlias = mg.Module[Any] | Iterable[mg.Parameter]


def _named(owner: str, model: ModelOrParams) -> list[tuple[str, mg.Parameter]]:
    """``model``'s parameters by name (its dotted paths), or a list's by position."""
    if isinstance(model, mg.Module):
        return list(model.named_parameters())
    if isinstance(model, mg.Parameter):
        return [(model.name or "params[0]", model)]
    named: list[tuple[str, mg.Parameter]] = []
    for index, param in enumerate(model):
        if not isinstance(param, mg.Parameter):
            raise TypeError(f"{owner}: expected a minigrad Module or Parameters, got "
                            f"{type(param).__name__} at params[{index}]")
        named.append((f"params[{index}]" + (f" ({param.name!r})" if param.name else ""), param))
    return named


def _entry(kind: str, name: str, tensor: torch.Tensor) -> Entry:
    return (kind, name, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."),
            tensor.device.type)


def _describe(entry: Entry) -> str:
    kind, name, shape, dtype, device = entry
    return f"{kind} {name!r} of shape {shape}, {dtype} on {device}"


def mismatch(signatures: Sequence[Sequence[Entry]], reference: int) -> str | None:
    """The first difference between the processes' signatures and ``reference``'s (a rank
    of the group), in words; None when all agree. Every process computes the same text
    from the same gathered signatures, so all of them refuse alike."""
    ours = signatures[reference]
    for rank, theirs in enumerate(signatures):
        if rank == reference or list(theirs) == list(ours):
            continue
        for index, (a, b) in enumerate(zip(ours, theirs)):
            if a != b:
                return (f"the first difference is entry {index} (of the parameters, then the "
                        f"buffers, in the model's order): rank {reference} has {_describe(a)}, "
                        f"rank {rank} has {_describe(b)}")
        longer, shorter = (reference, rank) if len(ours) > len(theirs) else (rank, reference)
        extra = signatures[longer][len(signatures[shorter])]
        return (f"rank {rank} has {len(theirs)} parameters and buffers, rank {reference} "
                f"has {len(ours)}; the first one rank {shorter} lacks is {_describe(extra)}")
    return None


def _check_same(owner: str, signature: list[Entry], cap: int, group: ProcessGroup | None,
                world: int, reference: int) -> None:
    """Gather every process's signature and bucket size, and refuse (ValueError, in every
    process) one that differs from ``reference``'s: before any collective that would
    otherwise mix mismatched arrays, or wait forever for a bucket that some process does
    not send (the buckets follow from both)."""
    import torch.distributed as dist

    gathered: list[Any] = [None] * world
    with collective(owner, "exchanging the models' signatures"):
        dist.all_gather_object(gathered, (signature, cap), group=group)
    problem = mismatch([theirs for theirs, _ in gathered], reference)
    if problem is not None:
        raise ValueError(f"{owner}: the processes' models differ, so they cannot train "
                         f"together: {problem}. Build the same model in every process.")
    ours = gathered[reference][1]
    for rank, (_, theirs) in enumerate(gathered):
        if theirs != ours:
            raise ValueError(f"{owner}: the processes' bucket_mb differ ({ours / _buckets.MB:g} "
                             f"in rank {reference}, {theirs / _buckets.MB:g} in rank {rank}): "
                             "pass the same everywhere")


def broadcast_parameters(
    model: mg.Module[Any],
    src: int = 0,
    *,
    group: ProcessGroup | None = None,
    bucket_mb: float = _buckets.DEFAULT_BUCKET_MB,
) -> None:
    """Give every process rank ``src``'s parameters and buffers, in place.

    Call it once, in every process, before training (`fit` with ``data_parallel`` does):
    models built from different seeds, or loaded from different checkpoints, then start
    equal, as ``DistributedDataParallel`` makes them at construction. It is a collective:
    every process of the group must call it, with the same ``src``.

    First the processes exchange their models' *signatures* -- every parameter's and
    buffer's name, shape, dtype and device type, in the model's order -- and all of them
    refuse a mismatch before any value moves. Then the values travel in a few flat
    buckets of at most ``bucket_mb`` megabytes, one broadcast each. The arrays stay the
    same objects (references to ``param.data`` remain valid); gradients and optimizer
    state are not touched.

    Parameters
    ----------
    model : Module
        The same architecture in every process; its arrays of any library minigrad
        runs on (NumPy, torch on CPU or CUDA, CuPy through DLPack).
    src : int, default 0
        The process whose values everyone gets: its global rank (as ``src`` in
        ``torch.distributed.broadcast``).
    group : torch.distributed.ProcessGroup, optional
        The processes to synchronize; default: all of them (the default group).
    bucket_mb : float > 0, default 25
        Largest bucket, in megabytes (``DistributedDataParallel``'s ``bucket_cap_mb``).

    Raises
    ------
    ImportError
        torch is not installed (``pip install "minigrad[distributed]"``).
    RuntimeError
        No process group is initialized; the message says how to start one.
    ValueError
        The processes' models differ -- in number, order, names, shapes, dtypes or
        device types of their parameters and buffers -- naming the first difference and
        the two ranks (raised in every process, before anything is written); a bad
        ``bucket_mb``.
    CollectiveError
        A process died or did not join within the group's timeout.
    """
    owner = "broadcast_parameters"
    if not isinstance(model, mg.Module):
        raise TypeError(f"{owner}: expected a minigrad Module, got {type(model).__name__}")
    cap = _buckets.check_cap(owner, bucket_mb)
    rank, world = group_place(owner, group)
    import torch.distributed as dist

    arrays = [(("parameter", name), param.data) for name, param in model.named_parameters()]
    arrays += [(("buffer", name), buffer.data) for name, buffer in model.named_buffers()]
    tensors = [_buckets.as_tensor(array) for _, array in arrays]
    signature = [_entry(kind, name, tensor) for ((kind, name), _), tensor in zip(arrays, tensors)]
    group_src = dist.get_group_rank(group, src) if group is not None else src
    if not 0 <= group_src < world:
        raise ValueError(f"{owner}: src={src} is not a rank of the group (size {world})")
    _check_same(owner, signature, cap, group, world, group_src)
    with collective(owner, "broadcasting the parameters"):
        _buckets.broadcast(tensors, src, group, cap, rank_is_src=rank == group_src)
    _buckets.synchronize_foreign([array for _, array in arrays], tensors)


# Gradient layouts (signature, bucket size) already checked to agree across a group's
# processes; weak keys: a destroyed group's entry goes with it.
_VERIFIED: weakref.WeakKeyDictionary[Any, set[tuple[tuple[Entry, ...], int]]] = (
    weakref.WeakKeyDictionary())


def _verified(group: ProcessGroup | None) -> set[tuple[tuple[Entry, ...], int]]:
    import torch.distributed as dist

    key = group if group is not None else dist.group.WORLD
    return _VERIFIED.setdefault(key, set())


def reduce_gradients(
    owner: str,
    named: Sequence[tuple[str, mg.Parameter]],
    group: ProcessGroup | None,
    cap: int,
    *,
    average: bool,
    loss: float | None = None,
) -> float | None:
    """Sum (``average``: the mean of) the parameters' gradients over the group, in place;
    with ``loss``, return its sum (mean) over the group too, from the same round of
    collectives. The first call with a layout checks that every process has it."""
    _, world = group_place(owner, group)  # first: it explains a missing torch
    import torch

    grads = [param.grad for _, param in named]  # reading fills a lazily zeroed one
    tensors = [_buckets.as_tensor(grad) for grad in grads]
    signature = tuple(_entry("parameter", name, tensor) for (name, _), tensor
                      in zip(named, tensors))
    seen = _verified(group)
    if (signature, cap) not in seen:
        _check_same(owner, list(signature), cap, group, world, 0)
        seen.add((signature, cap))
    extra = None
    if loss is not None:
        device = tensors[0].device if tensors else torch.device("cpu")
        extra = torch.tensor([loss], dtype=torch.float64, device=device)
    with collective(owner, "the all-reduce of the gradients"):
        _buckets.all_reduce(tensors, group, cap, world if average else 1, extra)
    _buckets.synchronize_foreign(grads, tensors)
    if extra is None:
        return None
    total = float(extra.item())
    return total / world if average else total


def average_gradients(
    model: ModelOrParams,
    *,
    group: ProcessGroup | None = None,
    bucket_mb: float = _buckets.DEFAULT_BUCKET_MB,
) -> None:
    """Replace every parameter's gradient by its mean over the processes, in place.

    Call it in every process after the backward pass and before ``optimizer.step()``
    (in `fit`, ``data_parallel=DataParallel()`` does). With ``P`` processes each holding the
    gradient ``g_p`` of the *mean* loss over its ``n`` samples (the same ``n``
    everywhere), the result

        ``ḡ = (g_1 + ... + g_P) / P``

    is the gradient of the mean loss over all ``P·n`` samples -- what one process
    training on the whole global batch gets -- so equal models stay equal after each
    step. (For a loss with ``reduction="sum"`` the full-batch gradient is the *sum*:
    multiply by ``P``, or let `fit` do it.)

    The gradients are all-reduced in flat buckets of at most ``bucket_mb`` megabytes,
    one collective each, all in flight at once (as ``DistributedDataParallel`` does), and
    divided by ``P`` afterwards; a gradient of a megabyte or more is a bucket by itself,
    reduced in place. NumPy gradients travel through ``torch.from_numpy`` (no copy),
    torch tensors as they are (CPU or CUDA), other libraries' arrays (CuPy) through
    DLPack. A gradient that reads as zeros (after ``zero_grad``, a parameter the
    backward did not reach) counts as zeros, in every process alike. Every process must
    call it with the same parameters in the same order: the first call with a given
    layout checks it.

    Parameters
    ----------
    model : Module, or iterable of Parameter
        Its parameters (``model.parameters()``, each once), or exactly these.
    group : torch.distributed.ProcessGroup, optional
        The processes to average over; default: all of them.
    bucket_mb : float > 0, default 25
        Largest bucket, in megabytes.

    Raises
    ------
    ImportError
        torch is not installed.
    RuntimeError
        No process group is initialized; the message says how to start one.
    ValueError
        The first call with a layout: the processes' parameters differ (names, shapes,
        dtypes, order), naming the first difference (raised in every process). A bad
        ``bucket_mb``.
    CollectiveError
        A process died or did not join within the group's timeout (a
        ``RuntimeError``).
    """
    owner = "average_gradients"
    cap = _buckets.check_cap(owner, bucket_mb)
    reduce_gradients(owner, _named(owner, model), group, cap, average=True)

