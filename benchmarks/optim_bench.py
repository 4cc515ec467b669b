"""Optimizer step on a 1M-parameter float32 model: minigrad vs torch.optim (foreach), 1 thread.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
     PYTHONPATH=. python benchmarks/optim_bench.py [--rounds N] [--library numpy|torch|both]
     [--warm]

``--library`` says where minigrad's parameters live: NumPy arrays (the default), or
torch CPU tensors (``Module.to(torch)``: the optimizers' torch kernels), or one table
of each. torch.optim always runs on its own tensors.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import minigrad as mg

SHAPES = [(1000, 512), (512, 512), (512, 462), (1000,), (512,)]  # ~1.0M parameters
CASES = {
    "SGD momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "Adam": ("Adam", {"lr": 1e-3}),
    "AdamW": ("AdamW", {"lr": 1e-3}),
    "Adam amsgrad": ("Adam", {"lr": 1e-3, "amsgrad": True}),
    "RMSprop": ("RMSprop", {"lr": 1e-3}),
    "Adagrad": ("Adagrad", {"lr": 1e-2}),
    "NAdam": ("NAdam", {"lr": 2e-3}),
    "RAdam": ("RAdam", {"lr": 1e-3}),
    "Adamax": ("Adamax", {"lr": 2e-3}),
    "Adadelta": ("Adadelta", {"lr": 1.0}),
    "Rprop": ("Rprop", {"lr": 1e-2}),
    "ASGD": ("ASGD", {"lr": 1e-2}),
}


def timed(steps, rounds: int, warm: bool) -> list[float]:
    """Median time of each step over ``rounds`` rounds. By default the steps take
    turns, three back to back per turn (the first untimed: it meets the other's cache
    state), as in training, where a forward and backward pass run between two steps;
    ``warm``: each step ``rounds`` times in a row instead, its arrays in cache."""
    samples: list[list[float]] = [[] for _ in steps]
    for _ in range(1 if warm else rounds):
        for step, times in zip(steps, samples):
            step()
            for _ in range(rounds if warm else 1):
                start = time.perf_counter()
                step()
                step()
                times.append((time.perf_counter() - start) / 2)
    return [float(np.median(times)) for times in samples]


def main(rounds: int, library: str, warm: bool = False) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in SHAPES]
    how = "steps in a row (warm)" if warm else "interleaved rounds"
    print(f"{sum(a.size for a in start):,} float32 parameters, median of {rounds} {how}, "
          f"minigrad on {library}\n")
    print(f"| optimizer | minigrad on {library} (ms) | torch foreach (ms) | ratio |")
    print("|---|---|---|---|")
    move = torch.tensor if library == "torch" else np.asarray
    for label, (name, settings) in CASES.items():
        params = [mg.Parameter(move(a)) for a in start]
        for p, g in zip(params, grads):
            p.grad[...] = move(g)
        opt = getattr(mg, name)(params, **settings)
        tensors = [torch.tensor(a, requires_grad=True) for a in start]
        for t, g in zip(tensors, grads):
            t.grad = torch.tensor(g)
        topt = getattr(torch.optim, name)(tensors, foreach=True, **settings)
        opt.step()  # one step each from the same weights must agree: no fast wrong answer
        topt.step()
        for param, tensor in zip(params, tensors):
            np.testing.assert_allclose(np.asarray(param.data), tensor.detach().numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=label)
        ours, theirs = timed([opt.step, topt.step], rounds, warm)
        print(f"| {label} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--library", choices=["numpy", "torch", "both"], default="numpy")
    parser.add_argument("--warm", action="store_true",
                        help="each optimizer's steps in a row, not interleaved")
    args = parser.parse_args()
    with threadpool_limits(1):
        for library in ["numpy", "torch"] if args.library == "both" else [args.library]:
            main(args.rounds, library, args.warm)
            print()
