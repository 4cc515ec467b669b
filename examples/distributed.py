"""Data-parallel training across processes: the spiral MLP of examples/spirals.py on 2
CPU processes, with PyTorch's ``torch.distributed`` carrying the gradients.

Run ``torchrun --nproc_per_node=2 examples/distributed.py`` (gloo on the CPU; add
``--backend nccl`` with one GPU per process). torchrun starts the processes and tells
each its rank; every process builds the model, starts the process group and calls
``mg.fit(..., data_parallel=DataParallel())`` on the whole dataset: fit gives every process rank
0's weights, trains each on its shard of every epoch, averages the gradients after each
backward and logs the same History everywhere. Rank 0 prints and writes the checkpoint.
``--loop manual`` trains with the same few lines written out instead
(`minigrad.distributed.batches`, `average_gradients`). Across machines: docs/distributed.md.

Importing this file trains nothing.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from spirals import build_model, make_spirals

import minigrad as mg

GLOBAL_BATCH = 32  # split across the processes: the learning rate is tuned for it


def train_manually(model: mg.Sequential, X: Any, y: Any, epochs: int, batch_size: int,
                   seed: int) -> None:
    """What ``fit(..., data_parallel=DataParallel())`` does, written out (without its logs)."""
    import minigrad.distributed as mgd

    mgd.broadcast_parameters(model)  # every process starts from rank 0's weights
    loss_fn, optimizer = mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=0.01)
    order = np.random.default_rng(seed)  # rank 0's draws the epochs' orders for all
    with model.mode(training=True):
        for _ in range(epochs):
            for xb, yb in mgd.batches(X, y, batch_size, rng=order):  # this process's shard
                loss_fn(model(xb), yb)
                optimizer.zero_grad()
                model.backward_params(loss_fn.backward())
                mgd.average_gradients(model)  # the mean over the processes
                optimizer.step()


def main(epochs: int = 60, seed: int = 0, backend: str = "gloo", loop: str = "fit",
         checkpoint: str | None = None) -> float:
    """Train in this process of a torchrun job; return the test accuracy (in every
    process: the models are equal)."""
    import torch
    import torch.distributed as dist

    from minigrad.distributed import DataParallel

    dist.init_process_group(backend)  # RANK, WORLD_SIZE, MASTER_ADDR/PORT: from torchrun
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        X, y = make_spirals(seed=seed)
        X_test, y_test = make_spirals(seed=seed + 1)
        model = build_model(seed=seed + rank)  # unequal on purpose: rank 0's win
        if backend == "nccl":  # one GPU per process, data and model on it
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
            model.to(torch, device=device)
            X, y, X_test, y_test = (torch.as_tensor(a, device=device)
                                    for a in (X, y, X_test, y_test))
        batch_size = max(1, GLOBAL_BATCH // world)
        if rank == 0:
            print(f"{world} processes ({backend}), {len(X)} samples: "
                  f"{-(-len(X) // world)} per process per epoch, {batch_size} per step")
        if loop == "manual":
            train_manually(model, X, y, epochs, batch_size, seed)
        else:
            callbacks = [] if checkpoint is None else [mg.ModelCheckpoint(checkpoint)]
            mg.fit(model, mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=0.01), X, y,
                   epochs=epochs, batch_size=batch_size, rng=seed, metrics=[mg.accuracy],
                   validation_data=(X_test, y_test), callbacks=callbacks,
                   progress=True, data_parallel=DataParallel())  # rank 0 shows it
        accuracy = mg.accuracy(mg.predict(model, X_test), y_test)
        if rank == 0:
            print(f"test accuracy {accuracy:.1%}")
        return accuracy
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPUs)")
    parser.add_argument("--loop", choices=["fit", "manual"], default="fit")
    parser.add_argument("--checkpoint", default=None, help="where rank 0 keeps the best model")
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed, arguments.backend, arguments.loop,
         arguments.checkpoint)
