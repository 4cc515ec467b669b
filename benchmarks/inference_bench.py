"""Inference speed of the digits CNN and memory of a LeNet-5 training step: minigrad
against PyTorch eager (and onnxruntime), one thread, in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        MKL_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/inference_bench.py \\
        [--rounds N] [--quick]

**Speed.** examples/digits_cnn.py's CNN (three 3×3 convolutions of 32, 32, 64 channels,
two max-pools, dropout, a `Dense` to 10; float32) on random 1×8×8 images: ``mg.predict``
against the same weights in ``torch.nn`` in eval mode under ``torch.no_grad()`` (eager),
and in onnxruntime (``mg.export.to_onnx``, one intra- and inter-op thread) when it is
installed. Latency at batch 1, throughput at batch 256. The outputs are compared first
(rtol = atol = 1e-4). Turns interleave round after round, each starting with an untimed
call; a turn times 50 calls at batch 1 (10 with --quick) or 2 at batch 256; it shows the
median time per call, the median ratio and the range of the rounds' ratios.

**Memory.** One training step of LeNet-5 (28×28, batch 64, float32, cross-entropy, SGD):
``loss(model(x), y)``, ``zero_grad``, ``backward_params``, ``step`` -- and PyTorch's
``loss.backward()`` step, its ``zero_grad(set_to_none=False)`` keeping the gradients'
memory as minigrad does (and as the timeline needs: a tensor allocated before the
profile and freed during it is not subtracted). For each, the live bytes at their peak
during the step, and what the step leaves held beyond the parameters, gradients,
optimizer state and batch:

* minigrad: `tracemalloc` (NumPy reports every array's data to it), started before the
  model is built; the baseline is taken after two warm-up steps and ``clear_cache()``.
  Peak = baseline's arrays (parameters + gradients + optimizer state + batch, counted by
  their ``nbytes``) + the traced peak above the baseline during one step; held = the
  traced bytes after the step above the baseline.
* PyTorch: tracemalloc does not see its allocator, so its own account of every tensor
  is used: ``torch.profiler.profile(profile_memory=True, record_shapes=True,
  with_stack=True)`` around one step (after two warm-ups) and the profile's memory
  timeline (``export_memory_timeline``: live bytes of all tensors by category --
  parameters, gradients, optimizer state, inputs, activations, temporaries -- at each
  allocation and free). Peak = the timeline's maximum; held = its end minus its start.
  Both count tensor and array bytes, not allocator pages; neither sees BLAS's or
  oneDNN's internal buffers.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import conv_bench  # beside this file: the model pairs and training steps it shares
import numpy as np

import minigrad as mg

F32 = np.float32


def digits_cnn_pair(torch: Any) -> tuple[mg.Sequential, Any]:
    """examples/digits_cnn.py's CNN and its PyTorch twin on the same weights, in eval mode."""
    model, net = conv_bench.digits_cnn_pair(torch)
    return model, net.eval()


def onnx_runner(model: mg.Sequential, folder: str) -> Callable[[np.ndarray], Any] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = Path(folder) / "digits_cnn.onnx"
    mg.export.to_onnx(model, path, input_shape=(None, 1, 8, 8))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"input": x})[0]


def time_calls(contenders: dict[str, Callable[[], object]], calls: int, rounds: int
               ) -> dict[str, list[float]]:
    """Seconds per call of each contender, one entry per round, turns interleaved."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            fn()  # untimed: caches warm
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls)
    return times


def speed_rows(torch: Any, rounds: int, quick: bool) -> list[str]:
    model, net = digits_cnn_pair(torch)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        runtime = onnx_runner(model, folder)
        for batch, calls in ((1, 10 if quick else 50), (8 if quick else 256, 2)):
            x = np.random.default_rng(batch).standard_normal((batch, 1, 8, 8)).astype(F32)
            xt = torch.from_numpy(x)

            def eager(xt: Any = xt) -> Any:
                with torch.no_grad():
                    return net(xt)

            contenders: dict[str, Callable[[], object]] = {
                "minigrad": lambda x=x: mg.predict(model, x), "torch": eager}
            want = eager().numpy()
            np.testing.assert_allclose(mg.predict(model, x), want, rtol=1e-4, atol=1e-4)
            if runtime is not None:
                np.testing.assert_allclose(runtime(x), want, rtol=1e-4, atol=1e-4)
                contenders["onnxruntime"] = lambda x=x: runtime(x)
            times = time_calls(contenders, calls, rounds)
            ours = statistics.median(times["minigrad"])
            for name in contenders:
                if name == "minigrad":
                    continue
                theirs = statistics.median(times[name])
                ratios = [a / b for a, b in zip(times["minigrad"], times[name])]
                what = "latency" if batch == 1 else "throughput"
                rows.append(f"| digits CNN predict {what}, batch {batch} | vs {name} "
                            f"| {ours * 1e6:.0f} µs | {theirs * 1e6:.0f} µs "
                            f"| {ours / theirs:.2f}× ({min(ratios):.2f}-{max(ratios):.2f}) |")
    return rows


def lenet(torch: Any, batch: int) -> tuple[Callable[[], object], Callable[[], object],
                                           mg.Sequential, list[np.ndarray]]:
    """The two LeNet-5 training steps (minigrad, PyTorch) on the same weights and batch,
    the minigrad model and the arrays its baseline holds (batch, optimizer state)."""
    rng = np.random.default_rng(0)
    model, net = conv_bench.lenet_pair(torch, rng)
    nn = torch.nn
    x = rng.standard_normal((batch, 1, 28, 28)).astype(F32)
    labels = rng.integers(0, 10, batch)
    loss, optimizer = mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.01)
    xt, lt = torch.from_numpy(x.copy()), torch.from_numpy(labels.copy())
    loss_t, optimizer_t = nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.01)

    ours, theirs = conv_bench.training_steps(  # torch's gradients kept, as minigrad keeps its
        model, loss, optimizer, x, labels, net, loss_t, optimizer_t, xt, lt, set_to_none=False)

    assert abs(float(ours()) - float(theirs().detach())) < 1e-3  # type: ignore[attr-defined]
    return ours, theirs, model, [x, labels]


def memory_rows(torch: Any, batch: int) -> list[str]:
    tracemalloc.start()
    try:
        ours, theirs, model, data = lenet(torch, batch)
        for _ in range(2):
            ours()
        model.clear_cache()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        ours()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    params = model.parameters()
    kept = sum(p.data.nbytes + p.grad.nbytes for p in params) + sum(a.nbytes for a in data)
    our_peak, our_held = kept + peak - base, after - base

    from torch.profiler import ProfilerActivity, profile

    for _ in range(2):
        theirs()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True,
                 with_stack=True) as prof:
        theirs()
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated for CUDA's snapshots
        path = Path(folder) / "timeline.json"
        prof.export_memory_timeline(str(path), device="cpu")
        _, sizes = json.loads(path.read_text())
    live = [sum(categories) for categories in sizes]
    their_peak, their_held = max(live), live[-1] - live[0]
    mib = 2.0**20
    return [
        f"| LeNet-5 step, batch {batch}: peak live bytes | {our_peak / mib:.2f} MiB "
        f"| {their_peak / mib:.2f} MiB | {our_peak / their_peak:.2f}× |",
        f"| LeNet-5 step, batch {batch}: held after the step (beyond parameters, gradients, "
        f"optimizer state, batch) | {our_held / mib:.2f} MiB | {their_held / mib:.2f} MiB | - |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="small batches, for smoke tests")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        speed = speed_rows(torch, args.rounds, args.quick)
        memory = memory_rows(torch, 8 if args.quick else 64)
    print("float32, 1 thread\n")
    print("| case | against | minigrad | other | ratio (rounds' range) |")
    print("|---|---|---|---|---|")
    print("\n".join(speed))
    print("\n| case | minigrad | torch | ratio |")
    print("|---|---|---|---|")
    print("\n".join(memory))


if __name__ == "__main__":
    main()
