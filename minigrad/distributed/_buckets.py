"""Arrays of any library as torch tensors (no copy), flattened into buckets for few
collective calls, as ``DistributedDataParallel`` does.

One all-reduce per parameter would pay the collective's fixed cost -- a round of
messages between the processes -- once per parameter: tens to hundreds of times a step.
Instead the small tensors are packed, in order, into flat *buckets* of at most ``cap``
bytes, one per run of equal dtype and device; each bucket is one collective. A tensor of
a megabyte or more (`ALONE`) is a bucket by itself: that tensor itself when contiguous
-- reduced in place, nothing copied. The flat buffers of the others are kept from call
to call (a fresh 10 MB buffer every step would page-fault its way in).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch.distributed import ProcessGroup

MB = 1 << 20
DEFAULT_BUCKET_MB = 25.0
"""DistributedDataParallel's ``bucket_cap_mb``."""
ALONE = 1 * MB
"""A tensor this large is a bucket of its own: reduced in place (a contiguous one), its
collective's fixed cost is small beside its transfer, and being in flight beside the
other buckets keeps both of gloo's worker threads busy."""


def as_tensor(array: Any) -> torch.Tensor:
    """A torch tensor sharing ``array``'s memory: a torch tensor itself, a NumPy array
    through ``torch.from_numpy``, any other (CuPy, array_api_strict...) through DLPack.

    Writing the tensor writes the array. For CUDA arrays from another library, DLPack's
    exchange orders the two libraries' streams: torch's current stream waits for the
    work already queued on the array.
    """
    import torch

    if isinstance(array, torch.Tensor):
        return array
    if isinstance(array, np.ndarray):
        return torch.from_numpy(array)
    from torch.utils.dlpack import from_dlpack

    return from_dlpack(array)


def check_cap(owner: str, bucket_mb: float) -> int:
    """``bucket_mb`` (megabytes, > 0) in bytes, or a ValueError naming ``owner``."""
    if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or not (
            bucket_mb > 0 and np.isfinite(bucket_mb)):
        raise ValueError(f"{owner}: bucket_mb must be a number > 0 (megabytes), "
                         f"got {bucket_mb!r}")
    return max(1, int(bucket_mb * MB))


def plan(tensors: Sequence[torch.Tensor], cap: int, alone: int = ALONE) -> list[list[int]]:
    """The buckets: runs of indices into ``tensors``, in order, of one dtype and device,
    each at most ``cap`` bytes; a tensor of ``alone`` bytes or more (or over ``cap``) is
    a bucket by itself. Equal on every process when the tensors' shapes, dtypes and
    devices are (it depends on nothing else: not on contiguity, which may differ)."""
    buckets: list[list[int]] = []
    size, open_ = 0, False  # the last bucket's bytes; whether it takes more tensors
    for index, tensor in enumerate(tensors):
        nbytes = tensor.numel() * tensor.element_size()
        small = nbytes < alone
        if open_ and small and size + nbytes <= cap:
            last = tensors[buckets[-1][0]]
            if last.dtype == tensor.dtype and last.device == tensor.device:
                buckets[-1].append(index)
                size += nbytes
                continue
        buckets.append([index])
        size, open_ = nbytes, small
    return buckets


class Flattener:
    """Flat buffers for buckets, kept for the bucket layouts seen last (a training loop
    has one or two: the gradients, the parameters at the start), by position: the
    buckets of one call, all in flight together, never share a buffer."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep
        self.buffers: OrderedDict[tuple[Any, ...], torch.Tensor] = OrderedDict()

    def buffer(self, bucket: Sequence[torch.Tensor], slot: int) -> torch.Tensor:
        """A flat tensor for ``bucket``, the ``slot``-th of its call, of its dtype and
        device (contents undefined)."""
        import torch

        first = bucket[0]
        numel = sum(tensor.numel() for tensor in bucket)
        key = (slot, first.dtype, first.device, numel, len(bucket))
        flat = self.buffers.pop(key, None)
        if flat is None:
            flat = torch.empty(numel, dtype=first.dtype, device=first.device)
            while len(self.buffers) >= self.keep:
                self.buffers.popitem(last=False)
        self.buffers[key] = flat  # most recently used last
        return flat

    def pack(self, bucket: Sequence[torch.Tensor], slot: int) -> torch.Tensor:
        """The bucket as one flat tensor: the tensor itself when it is alone and
        contiguous (no copy), else a kept buffer filled with the tensors in order."""
        import torch

        if len(bucket) == 1 and bucket[0].is_contiguous():
            return bucket[0].view(-1)
        flat = self.buffer(bucket, slot)
        torch.cat([tensor.reshape(-1) for tensor in bucket], out=flat)
        return flat


def unpack(flat: torch.Tensor, bucket: Sequence[torch.Tensor], divisor: int = 1) -> None:
    """Copy the flat tensor, divided by ``divisor``, back into the bucket's tensors: one
    pass (in place when ``flat`` is a view of the one tensor)."""
    import torch

    if len(bucket) == 1 and flat.data_ptr() == bucket[0].data_ptr():
        if divisor != 1:
            flat.div_(divisor)
        return
    offset = 0
    for tensor in bucket:
        count = tensor.numel()
        part = flat[offset : offset + count].view(tensor.shape)
        if divisor == 1:
            tensor.copy_(part)
        else:  # of the tensor's shape: out= writes into it, strided or not
            torch.div(part, divisor, out=tensor)
        offset += count


FLATTENER = Flattener()


def all_reduce(
    tensors: Sequence[torch.Tensor],
    group: ProcessGroup | None,
    cap: int,
    divisor: int,
    extra: torch.Tensor | None = None,
) -> None:
    """Sum ``tensors`` over the group's processes, in place, bucket by bucket, then
    divide them by ``divisor`` (1: keep the sum). ``extra`` (a small tensor) is summed
    alongside, in its own collective: the buckets and it are all in flight at once.

    Collectives are issued asynchronously and then waited for, so the process group's
    worker threads (gloo runs two) move several buckets at the same time.
    """
    import torch.distributed as dist

    buckets = [[tensors[i] for i in indices] for indices in plan(tensors, cap)]
    flats = [FLATTENER.pack(bucket, slot) for slot, bucket in enumerate(buckets)]
    works = [dist.all_reduce(flat, group=group, async_op=True) for flat in flats]
    if extra is not None:
        works.append(dist.all_reduce(extra, group=group, async_op=True))
    for work in works:
        if work is not None:
            work.wait()
    for bucket, flat in zip(buckets, flats):
        unpack(flat, bucket, divisor)


def broadcast(tensors: Sequence[torch.Tensor], src: int, group: ProcessGroup | None,
              cap: int, rank_is_src: bool) -> None:
    """Overwrite ``tensors`` with process ``src``'s (a global rank, as torch's ``src``),
    in place, bucket by bucket. Booleans travel as bytes (not every backend has bool)."""
    import torch
    import torch.distributed as dist

    wire = [tensor.view(torch.uint8) if tensor.dtype == torch.bool else tensor
            for tensor in tensors]
    buckets = [[wire[i] for i in indices] for indices in plan(wire, cap)]
    flats = [FLATTENER.pack(bucket, slot) if rank_is_src
             else (bucket[0].view(-1) if len(bucket) == 1 and bucket[0].is_contiguous()
                   else FLATTENER.buffer(bucket, slot))
             for slot, bucket in enumerate(buckets)]
    works = [dist.broadcast(flat, src=src, group=group, async_op=True) for flat in flats]
    for work in works:
        if work is not None:
            work.wait()
    if not rank_is_src:
        for bucket, flat in zip(buckets, flats):
            unpack(flat, bucket)


def synchronize_foreign(arrays: Sequence[object], tensors: Sequence[torch.Tensor]) -> None:
    """Wait for torch's queued work on the CUDA tensors that view another library's
    arrays (CuPy, through DLPack): that library reads them next on its own stream, which
    knows nothing of torch's. NumPy and torch arrays need nothing."""
    import torch

    devices = {tensor.device for array, tensor in zip(arrays, tensors)
               if tensor.device.type == "cuda"
               and not isinstance(array, (np.ndarray, torch.Tensor))}
    for device in devices:
        torch.cuda.current_stream(device).synchronize()
