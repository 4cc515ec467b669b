"""Data-parallel throughput: two processes at one thread each against one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/distributed_bench.py \\
        [--steps N] [--repeats R] [--dtype float32|float64] [--batch B] [--bucket-mb MB]

The model is bench.py's big MLP -- 784-1024-1024-10, sigmoid hidden layers, bias nodes
(`Bias` + `Dense`), linear output, `MSELoss`, `SGD` -- trained on random data in
batches of ``--batch`` (256) samples *globally*: one process takes the whole batch per
step; two processes (a gloo group, `minigrad.distributed.average_gradients` after each
backward) take half each, which is the same training (tests/test_distributed.py checks
that). Every process runs one BLAS thread (``OPENBLAS_NUM_THREADS=1``,
``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``), so two processes use the two
cores one process leaves half idle.

Reported per repeat: samples per second of each run (the global batch over the median
step time, after warm-up steps), their ratio, and the time one step spends in
`average_gradients` -- packing the buckets, the all-reduce (waiting for the slower
process included) and the copy back -- with its share of the step; and the CPU time
of a step (all threads, both processes together for the two-process run), which shows
what the communication costs in work rather than waiting (on a loaded machine the
wall-clock figures mostly measure the scheduler). The runs alternate
(one process, then two, per repeat), so load from other work hits both alike; the
processes meet at a file (``FileStore``) and gloo stays on the loopback interface.
The BLAS kernel threadpoolctl reports is printed when threadpoolctl is installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZES = (784, 1024, 1024, 10)
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def build(dtype: str, seed: int = 0) -> Any:
    import minigrad as mg

    rng = np.random.default_rng(seed)
    layers: list[Any] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(SIZES)):
        layers += [mg.Bias(), mg.Dense(fan_in + 1, fan_out, rng=rng, dtype=dtype)]
        if index < len(SIZES) - 2:
            layers.append(mg.Sigmoid())
    return mg.Sequential(*layers)


def worker(args: argparse.Namespace) -> None:
    """One process: time ``--steps`` training steps of its share of the global batch."""
    import minigrad as mg

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:  # (alone, the NumPy model needs no torch: not even its import)
        from datetime import timedelta

        import torch

        torch.set_num_threads(1)  # its copies into and out of the buckets

        import torch.distributed as dist

        import minigrad.distributed as mgd

        dist.init_process_group("gloo", init_method="file://" + os.environ["BENCH_STORE"],
                                rank=rank, world_size=world, timeout=timedelta(seconds=120))
    model = build(args.dtype)
    loss_fn = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=0.01)
    local = args.batch // world
    rng = np.random.default_rng(rank)
    X = rng.standard_normal((local, SIZES[0])).astype(args.dtype)
    Y = rng.standard_normal((local, SIZES[-1])).astype(args.dtype)
    steps, reduces, cpu = [], [], []
    for step in range(args.warmup + args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss_fn(model(X), Y)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())
        before = time.perf_counter()
        if world > 1:
            mgd.average_gradients(model, bucket_mb=args.bucket_mb)
        after = time.perf_counter()
        optimizer.step()
        end, cpu_end = time.perf_counter(), time.process_time()
        if step >= args.warmup:
            steps.append(end - start)
            reduces.append(after - before)
            cpu.append(cpu_end - cpu_start)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    print(json.dumps({"rank": rank, "step": statistics.median(steps),
                      "reduce": statistics.median(reduces), "cpu": statistics.median(cpu),
                      "blas": blas()}), flush=True)


def run(args: argparse.Namespace, world: int) -> dict[str, Any]:
    """Start ``world`` worker processes; their median step and all-reduce times (the
    slowest process's: the steps are synchronous)."""
    env = {**os.environ, **ONE_THREAD, "WORLD_SIZE": str(world), "GLOO_SOCKET_IFNAME":
           "lo0" if sys.platform == "darwin" else "lo",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, __file__, "--worker", "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--dtype", args.dtype, "--batch", str(args.batch),
               "--bucket-mb", str(args.bucket_mb)]
    with tempfile.TemporaryDirectory() as folder:
        env["BENCH_STORE"] = os.path.join(folder, "store")
        procs = [subprocess.Popen(command, env={**env, "RANK": str(rank)}, stdout=subprocess.PIPE,
                                  text=True) for rank in range(world)]
        try:
            outputs = [proc.communicate(timeout=600)[0] for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    if any(proc.returncode for proc in procs):
        raise SystemExit(f"a worker failed: {[proc.returncode for proc in procs]}")
    results = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    step = max(result["step"] for result in results)
    return {"step": step, "reduce": max(result["reduce"] for result in results),
            "samples_per_s": args.batch / step, "blas": results[0]["blas"],
            "cpu": sum(result["cpu"] for result in results)}


def blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(f"{info.get('internal_api')} {info.get('version')} kernel "
                     f"{info.get('architecture')} ({info.get('num_threads')} threads)"
                     for info in threadpool_info())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--batch", type=int, default=256, help="global batch size")
    parser.add_argument("--bucket-mb", type=float, default=25.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    params = sum((a + 1) * b for a, b in itertools.pairwise(SIZES))
    print(f"MLP {'-'.join(map(str, SIZES))}, {args.dtype}, global batch {args.batch}, "
          f"{params * np.dtype(args.dtype).itemsize / 2**20:.1f} MB of gradients, "
          f"bucket_mb {args.bucket_mb}; {args.steps} timed steps after {args.warmup}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    ratios, shares = [], []
    for repeat in range(args.repeats):
        one, two = run(args, 1), run(args, 2)
        if repeat == 0:
            print(f"BLAS in the workers (threadpoolctl): {one['blas']}")
        ratio = two["samples_per_s"] / one["samples_per_s"]
        share = two["reduce"] / two["step"]
        ratios.append(ratio)
        shares.append(share)
        print(f"repeat {repeat + 1}: 1 process {one['step'] * 1e3:.1f} ms/step "
              f"({one['samples_per_s']:.0f} samples/s); 2 processes {two['step'] * 1e3:.1f} "
              f"ms/step ({two['samples_per_s']:.0f} samples/s), all-reduce "
              f"{two['reduce'] * 1e3:.1f} ms ({share:.0%} of the step); ratio {ratio:.2f}x; "
              f"CPU per step {one['cpu'] * 1e3:.1f} ms vs {two['cpu'] * 1e3:.1f} ms "
              f"(both processes, all threads: {two['cpu'] / one['cpu']:.2f}x the work)")
    print(f"ratio {min(ratios):.2f}-{max(ratios):.2f}x, all-reduce {min(shares):.0%}-"
          f"{max(shares):.0%} of a step; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
