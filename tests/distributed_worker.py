"""One process of the data-parallel tests (tests/test_distributed.py starts two).

``python tests/distributed_worker.py SCENARIO OUTDIR`` with ``RANK``, ``WORLD_SIZE``,
``MINIGRAD_TEST_STORE`` (the file the processes meet at: a ``FileStore`` opens no port,
where the ``TCPStore`` of ``env://`` would listen on every interface) and
``MINIGRAD_TEST_TIMEOUT`` (the group's timeout, seconds). It writes what it computed to
``OUTDIR/SCENARIO-RANK.npz`` (arrays) and ``.json`` (histories, error messages); the test
compares that with one process training on the whole global batches, built by the same
functions below, which the test imports.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg

SEED = 7
N, FEATURES, OUTPUTS = 48, 4, 3  # 48 samples: 3 global batches of 16, 2 × 8 per process
PER_PROCESS = 8
EPOCHS = 2


def data(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, FEATURES))
    y = np.tanh(X @ rng.standard_normal((FEATURES, OUTPUTS))) + 0.1 * rng.standard_normal(
        (n, OUTPUTS))
    return X, y


def classes(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    X, y = data(n)
    return X, np.argmax(y, axis=1)


def mlp(seed: int, hidden: int = 8) -> mg.Sequential:
    """float64, Bias + Dense pairs (the export's PrependOnes + Linear on the torch side)."""
    rng = np.random.default_rng(seed)
    return mg.Sequential(mg.Bias(), mg.Dense(FEATURES + 1, hidden, rng=rng), mg.Tanh(),
                         mg.Bias(), mg.Dense(hidden + 1, OUTPUTS, rng=rng))


OPTIMIZERS: dict[str, Callable[[list[mg.Parameter]], mg.Optimizer]] = {
    "sgd": lambda params: mg.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: mg.Adam(params, lr=0.01),
}


def epoch_orders(n: int, epochs: int, seed: int = SEED) -> Iterator[np.ndarray]:
    """The orders `fit` and `minigrad.distributed.batches` draw from ``rng=seed``."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        yield rng.permutation(n)


def train_one_process(model: mg.Sequential, optimizer: mg.Optimizer, loss_fn: mg.Loss[Any],
                      X: np.ndarray, y: np.ndarray, global_batch: int, epochs: int,
                      world: int = 2) -> None:
    """The reference: one process on the global batches -- the blocks of ``global_batch``
    of each epoch's order, padded as `shard_indices` pads it."""
    for order in epoch_orders(len(X), epochs):
        padded = np.resize(order, -(-len(X) // world) * world)
        for start in range(0, len(padded), global_batch):
            index = padded[start : start + global_batch]
            loss_fn(model(X[index]), y[index])
            optimizer.zero_grad()
            model.backward_params(loss_fn.backward())
            optimizer.step()


def weights(model: mg.Module[Any]) -> dict[str, np.ndarray]:
    return model.state_dict()  # NumPy copies, whatever the library


# -- the scenarios, run in every process -------------------------------------------------


def scenario_train(rank: int, world: int, out: dict[str, Any], log: dict[str, Any],
                   folder: Path) -> None:
    import torch

    import minigrad.distributed as mgd

    X, y = data()
    # The manual loop: every process starts from another seed; broadcast_parameters
    # makes them rank 0's.
    for name, make in OPTIMIZERS.items():
        model = mlp(seed=100 + rank)
        mgd.broadcast_parameters(model)
        optimizer = make(model.parameters())
        loss_fn = mg.MSELoss()
        epoch_rng = np.random.default_rng(SEED if rank == 0 else 999)  # only rank 0's counts
        for _ in range(EPOCHS):
            for xb, yb in mgd.batches(X, y, PER_PROCESS, rng=epoch_rng):
                loss_fn(model(xb), yb)
                optimizer.zero_grad()
                model.backward_params(loss_fn.backward())
                mgd.average_gradients(model)
                optimizer.step()
        out.update({f"manual-{name}/{key}": value for key, value in weights(model).items()})

    # fit: SGD with momentum on a mean loss with a metric, validation, a checkpoint;
    # Adam on a summed loss; a dataset the processes do not divide (padded).
    Xc, yc = classes()
    runs: dict[str, tuple[Any, ...]] = {
        "fit-sgd": ("sgd", mg.CrossEntropyLoss(), Xc, yc, [mg.accuracy], (Xc[:13], yc[:13])),
        "fit-adam-sum": ("adam", mg.MSELoss(reduction="sum"), X, y, [], (X[:5], y[:5])),
        "fit-sgd-padded": ("sgd", mg.MSELoss(), X[:45], y[:45], [], None),
    }
    for run, (opt, loss_fn, Xf, yf, metrics, validation) in runs.items():
        model = mlp(seed=100 + rank)
        checkpoint = mg.ModelCheckpoint(folder / f"{run}-{rank}.npz", monitor="loss")
        history = mg.fit(model, loss_fn, OPTIMIZERS[opt](model.parameters()), Xf, yf,
                         epochs=EPOCHS, batch_size=PER_PROCESS, rng=SEED if rank == 0 else None,
                         metrics=metrics, validation_data=validation,
                         callbacks=[checkpoint], progress=True,
                         data_parallel=mgd.DataParallel())
        out.update({f"{run}/{key}": value for key, value in weights(model).items()})
        log[run] = history.history

    # A group without global rank 0: rank 1 alone, its group's rank 0 (a group of one
    # trains as one process does).
    import torch.distributed as dist

    alone = dist.new_group([1])  # every process takes part in making it
    if rank == 1:
        model = mlp(seed=100)
        mg.fit(model, mg.MSELoss(), OPTIMIZERS["adam"](model.parameters()), X, y, epochs=EPOCHS,
               batch_size=PER_PROCESS, rng=SEED, progress=False,
               data_parallel=mgd.DataParallel(group=alone, bucket_mb=1e-4))
        out.update({f"fit-subgroup/{key}": value for key, value in weights(model).items()})

    # The hand-off: the model converted to torch, trained by DistributedDataParallel,
    # brought back. Rank 1 starts from other weights: DDP broadcasts rank 0's.
    from torch.nn.parallel import DistributedDataParallel

    from minigrad.export import load_torch_state_dict, to_torch

    model = mlp(seed=100 + rank)
    module = DistributedDataParallel(to_torch(model))
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    epoch_rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        for xb, yb in mgd.batches(X, y, PER_PROCESS, rng=epoch_rng):
            loss = torch.nn.functional.mse_loss(module(torch.from_numpy(xb)),
                                                torch.from_numpy(yb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    load_torch_state_dict(model, module.module.state_dict())
    out.update({f"ddp/{key}": value for key, value in weights(model).items()})

    # A parameter whose gradient reads as zeros in one process (no backward there).
    model = mlp(seed=100)
    model.zero_grad()
    if rank == 0:
        loss_fn = mg.MSELoss()
        loss_fn(model(X[:4]), y[:4])
        model.backward_params(loss_fn.backward())
    mgd.average_gradients(model)
    out.update({f"half/{name}": param.grad.copy() for name, param in model.named_parameters()})

    # Buckets: tiny ones (one collective per parameter, several per bucket) give the same
    # mean; torch tensors and array_api_strict arrays (DLPack, as CuPy) as NumPy does.
    import array_api_strict

    for library, bucket_mb in [("numpy", 1e-4), ("torch", 25.0), ("array_api_strict", 25.0),
                               ("torch", 1e-4)]:
        model = mlp(seed=100)
        model.to({"numpy": np, "torch": torch, "array_api_strict": array_api_strict}[library])
        loss_fn = mg.MSELoss()
        rows = slice(8 * rank, 8 * rank + 8)
        if library == "numpy":
            xb, yb = X[rows], y[rows]
        elif library == "torch":
            xb, yb = torch.from_numpy(X[rows]), torch.from_numpy(y[rows])
        else:
            xb, yb = array_api_strict.asarray(X[rows]), array_api_strict.asarray(y[rows])
        loss_fn(model(xb), yb)
        model.zero_grad()
        model.backward_params(loss_fn.backward())
        mgd.average_gradients(model, bucket_mb=bucket_mb)
        out.update({f"{library}-{bucket_mb}/{name}": np.asarray(torch.utils.dlpack.from_dlpack(
            param.grad) if library == "array_api_strict" else param.grad).copy()
            for name, param in model.named_parameters()})

    # Refusals, in every process alike: models that differ; fit calls that differ.
    for case, model in [("shape", mlp(seed=0, hidden=8 if rank == 0 else 9)),
                        ("order", mlp(seed=0) if rank == 0 else mg.Sequential(
                            *reversed(list(mlp(seed=0)))))]:
        try:
            mgd.broadcast_parameters(model)
        except ValueError as exc:
            log[f"refused-{case}"] = str(exc)
    try:
        mgd.average_gradients(mlp(seed=0), bucket_mb=1 if rank == 0 else 2)
    except ValueError as exc:
        log["refused-bucket"] = str(exc)
    model = mlp(seed=0)
    try:
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
               batch_size=8 if rank == 0 else 4, progress=False,
               data_parallel=mgd.DataParallel())
    except ValueError as exc:
        log["refused-fit"] = str(exc)
    try:
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X[:1], y[:1], epochs=1,
               progress=False, data_parallel=mgd.DataParallel(drop_last=True))
    except ValueError as exc:
        log["refused-drop-last"] = str(exc)


def scenario_dies(rank: int, world: int, out: dict[str, Any], log: dict[str, Any],
                  folder: Path) -> None:
    """Rank 1 dies in the middle of `fit`; rank 0 must fail with a clear error."""
    import minigrad.distributed as mgd

    class Dies(mg.Callback):
        def on_train_batch_begin(self, batch: int) -> None:
            if rank == 1 and batch == 2:
                os._exit(17)

    X, y = data()
    model = mlp(seed=0)
    start = time.monotonic()
    try:
        mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
               batch_size=2, rng=SEED, progress=False, callbacks=[Dies()],
               data_parallel=mgd.DataParallel())
    except RuntimeError as exc:
        log["error"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    log["seconds"] = time.monotonic() - start


def scenario_hangs(rank: int, world: int, out: dict[str, Any], log: dict[str, Any],
                   folder: Path) -> None:
    """Rank 1 stops answering (stuck, not dead); rank 0's all-reduce must time out.

    On a group of its own with a 2 s timeout: the default group's long one leaves the
    processes time to start (it bounds the rendezvous too)."""
    import torch.distributed as dist

    import minigrad.distributed as mgd

    short = dist.new_group(timeout=timedelta(seconds=2))
    X, y = data()
    model = mlp(seed=0)
    loss_fn = mg.MSELoss()
    start = time.monotonic()
    try:
        for step in range(4):
            if rank == 1 and step == 2:
                (folder / "stuck").write_text("")
                time.sleep(120)  # the test kills it long before
            loss_fn(model(X[:8]), y[:8])
            model.zero_grad()
            model.backward_params(loss_fn.backward())
            mgd.average_gradients(model, group=short)
    except RuntimeError as exc:
        log["error"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    log["seconds"] = time.monotonic() - start


SCENARIOS = {"train": scenario_train, "dies": scenario_dies, "hangs": scenario_hangs}


def main(scenario: str, outdir: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group(
        "gloo", init_method="file://" + os.environ["MINIGRAD_TEST_STORE"], rank=rank,
        world_size=world, timeout=timedelta(seconds=float(os.environ["MINIGRAD_TEST_TIMEOUT"])))
    folder = Path(outdir)
    out: dict[str, Any] = {}
    log: dict[str, Any] = {"minigrad": mg.__file__}
    try:
        SCENARIOS[scenario](rank, world, out, log, folder)
    finally:
        np.savez(folder / f"{scenario}-{rank}.npz", **out)
        (folder / f"{scenario}-{rank}.json").write_text(json.dumps(log))
    if scenario == "train":
        dist.destroy_process_group()
    else:  # the group is broken: leave without the goodbye that would wait for the dead
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
