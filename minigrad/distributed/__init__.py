"""Data-parallel training across processes -- on PyTorch's ``torch.distributed``.

minigrad does not grow a communication layer of its own: it uses the process group the
user started with ``torch.distributed.init_process_group`` -- gloo on CPUs, NCCL on GPUs
(one process per device), launched with ``torchrun``, across machines with
``--nnodes`` -- and adds what a model with hand-written backward passes needs on top:

* `broadcast_parameters` -- every process starts from rank 0's parameters and buffers,
  after checking that the processes' models agree;
* `average_gradients` -- after the backward pass, each gradient becomes its mean over
  the processes (bucketed all-reduces, as ``DistributedDataParallel`` does);
* `batches`, `shard_indices` -- each process's shard of an epoch, split as
  ``DistributedSampler`` splits it, in one order shared by all;
* `DataParallel` -- all of that inside `mg.fit` (``fit(..., data_parallel=DataParallel())``),
  with losses and metrics combined so that every process logs the same `History`; it
  plugs into `fit` as a `minigrad.training.parallel.ParallelStrategy`, so training
  imports nothing of this package.

A training step of the manual loop, in every process (docs/distributed.md has the
whole script and how to launch it)::

    for xb, yb in minigrad.distributed.batches(X, y, 32, rng=epoch_rng):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())
        minigrad.distributed.average_gradients(model)
        optimizer.step()

Install with ``pip install "minigrad[distributed]"`` (PyTorch). ``import
minigrad.distributed`` works without PyTorch -- it is imported by the functions that
need it -- so only `shard_indices` is usable then:

>>> from minigrad.distributed import shard_indices
>>> shard_indices(5, rank=1, world_size=2)  # padded to 6 with sample 0
array([1, 3, 0])
"""

from minigrad.distributed._collectives import average_gradients, broadcast_parameters
from minigrad.distributed._data import batches, shard_indices, shard_size
from minigrad.distributed._fit import DataParallel, ParallelFit
from minigrad.distributed._group import CollectiveError

__all__ = [
    "CollectiveError",
    "DataParallel",
    "ParallelFit",
    "average_gradients",
    "batches",
    "broadcast_parameters",
    "shard_indices",
    "shard_size",
]
