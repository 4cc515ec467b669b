"""Per-operation A/B of the big-MLP training step: minigrad's layers against the
hand-written NumPy step of `bench.py`, operation by operation (run by hand).

    python benchmarks/profile_step.py [--dtype float32|float64] [--steps 30]

Steps alternate with 50 ms pauses, so neither side meets the other's spinning BLAS
threads; each row is the median time per step of one kind of operation.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg

SIZES, BATCH, LR = [784, 1024, 1024, 10], 256, 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    layers: list[mg.Layer[Any]] = []
    for a, b in itertools.pairwise(SIZES):
        layers += [mg.Bias(), mg.Dense(a + 1, b, rng=rng, dtype=dtype), mg.Sigmoid()]
    layers[-1] = mg.Identity()
    model = mg.Sequential(*layers)
    weights = [p.data.copy() for p in model.parameters()]
    X = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
    Y = rng.random((BATCH, SIZES[-1])).astype(dtype)
    loss_fn, optimizer = mg.MSELoss(), mg.SGD(model.parameters(), lr=LR)
    ones = np.ones((BATCH, 1), dtype)
    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(name: str, op: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = op()
        times[name].append(time.perf_counter() - start)
        return result

    def numpy_step() -> None:
        inputs, h = [], X
        for i, W in enumerate(weights):
            a = timed("numpy: bias columns (hstack)", lambda h=h: np.hstack((ones, h)))
            inputs.append(a)
            z = timed("numpy: forward GEMM", lambda a=a, W=W: a @ W)
            last = i == len(weights) - 1
            h = z if last else timed("numpy: sigmoid", lambda z=z: 1 / (1 + np.exp(-z)))
        g = (h - Y) * (2 / h.size)
        for i in range(len(weights) - 1, -1, -1):
            a, W = inputs[i], weights[i]
            grad_W = timed("numpy: weight-gradient GEMM", lambda a=a, g=g: a.T @ g)
            if i > 0:
                s = a[:, 1:]
                g = timed("numpy: input GEMM + sigmoid'",
                          lambda g=g, W=W, s=s: (g @ W[1:].T) * s * (1 - s))
            timed("numpy: update", lambda W=W, grad_W=grad_W: W.__isub__(LR * grad_W))

    def minigrad_step() -> None:
        x = X
        for layer in model.layers:
            x = timed(f"minigrad: forward {type(layer).__name__}",
                      lambda layer=layer, x=x: layer.forward(x))
        loss_fn(x, Y)
        g = loss_fn.backward()
        timed("minigrad: zero_grad", optimizer.zero_grad)
        for layer in model.layers[:1:-1]:
            g = timed(f"minigrad: backward {type(layer).__name__}",
                      lambda layer=layer, g=g: layer.backward(g))
        timed("minigrad: backward Dense", lambda: model.layers[1].backward_params(g))
        timed("minigrad: SGD step", optimizer.step)

    for _ in range(3):
        numpy_step()
        minigrad_step()
    times.clear()
    for _ in range(args.steps):
        time.sleep(0.05)
        numpy_step()
        time.sleep(0.05)
        minigrad_step()
    totals = {"numpy": 0.0, "minigrad": 0.0}
    for name, samples in times.items():
        per_step = float(np.median(samples)) * len(samples) / args.steps
        totals[name.split(":")[0]] += per_step
        print(f"{name:36s} {per_step * 1e3:7.3f} ms")
    print(f"total: numpy {totals['numpy'] * 1e3:.2f} ms, "
          f"minigrad {totals['minigrad'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
