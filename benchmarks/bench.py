"""Training-step benchmarks: minigrad against hand-written NumPy, the blog post and PyTorch.

    python benchmarks/bench.py [--steps N] [--dtype float32|float64|both] [--cases ...]

Every case trains the same network from the same initial weights with each contender:

* ``minigrad``  -- the library: forward, `MSELoss`, ``zero_grad``, ``backward_params``, `SGD`.
* ``numpy``     -- the hand-written NumPy step: forward with ``np.hstack`` bias columns, MSE
  gradient, backward with ``a.T @ g``, in-place SGD update -- nothing else, same math.
* ``post``      -- the blog post's own algorithm (blog net only): broadcast outer products
  averaged with ``np.average`` (O(batch·in·out) memory).
* ``torch``     -- PyTorch CPU with ``nn.Linear`` layers (skipped with a note when missing).

The ``mlp-torch`` case (float32 only; needs PyTorch) is the big MLP with minigrad's model
moved to PyTorch CPU tensors (``model.to(torch)``): its ``minigrad`` column is minigrad
computing on torch tensors, next to native PyTorch -- issue 10's target is
``mg/torch ≤ 1.25`` at ``--threads 1``.

The ``import`` case times start-up instead -- ``python -c "import minigrad"``, and the
blog net's imports, against ``python -c "import numpy"`` (`IMPORTS`) -- and ``process``
the whole ``python examples/blog_net.py`` against the post's own script: whole
processes, alternating, bytecode cached, CPU and wall time.

The ``digits`` case times whole epochs of examples/digits.py's MLP instead: minigrad's
`fit` against scikit-learn's ``MLPClassifier`` and a PyTorch loop of the same
architecture, optimizer and batch size (needs scikit-learn).

Before timing, each contender runs two steps and its loss and weight updates are compared
with the hand-written reference (``np.allclose``), so a fast wrong answer cannot win.
Timing is interleaved: round after round, each contender gets a turn (see `measure`);
the table shows the median per-step time over ``--steps`` rounds. GEMM peak is the best
of several big square matmuls, before and after the cases.

Adding a case: write a function ``(dtype, quick, torch) -> Case`` (`make_case` builds the
contenders for a stack of sigmoid layers) and register it in `CASES` with its dtypes.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import backend

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import blog_net  # noqa: E402
import digits  # noqa: E402  # importing it needs no scikit-learn; loading the data does
import post_script  # noqa: E402  # beside this file

Weights = list[np.ndarray]
"""Canonical weights: one ``(in + 1, out)`` matrix per layer, bias in row 0 (minigrad's)."""


@dataclass
class Contender:
    """One implementation of a case: ``step()`` trains one step and returns the loss."""

    step: Callable[[], float]
    weights: Callable[[], Weights]


@dataclass
class Case:
    name: str
    dtype: np.dtype[Any]
    contenders: dict[str, Contender]
    flops: float  # per step, for the hand-written math (GEMMs only)
    notes: list[str] = field(default_factory=list)


# -- the contenders, for any stack of sigmoid layers with a linear output -------------------


def sigmoid_mlp(weights: Weights, dtype: np.dtype[Any]) -> mg.Sequential:
    """``[Bias, Dense, Sigmoid] * (L - 1) + [Bias, Dense, Identity]`` with given weights."""
    layers: list[mg.Layer[Any]] = []
    for index, w in enumerate(weights):
        dense = mg.Dense(w.shape[0], w.shape[1], init=mg.init.zeros(), dtype=dtype)
        dense.weight.data[...] = w
        last = index == len(weights) - 1
        layers += [mg.Bias(), dense, mg.Identity() if last else mg.Sigmoid()]
    return mg.Sequential(*layers)


def minigrad_contender(model: mg.Sequential, X: np.ndarray, Y: np.ndarray, lr: float) -> Contender:
    loss_fn = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=lr)

    def step() -> float:
        loss = loss_fn(model(X), Y)
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())
        optimizer.step()
        return loss

    return Contender(step, lambda: [p.data for p in model.parameters()])


def minigrad_torch_contender(
    torch: Any, model: mg.Sequential, X: np.ndarray, Y: np.ndarray, lr: float
) -> Contender:
    """`minigrad_contender`'s step on ``model.to(torch)`` with torch CPU tensors."""
    model.to(torch)  # before the optimizer: it holds the moved arrays
    contender = minigrad_contender(model, torch.from_numpy(X), torch.from_numpy(Y), lr)
    params = model.parameters()
    return Contender(contender.step, lambda: [backend.to_numpy(p.data) for p in params])


def numpy_contender(weights: Weights, X: np.ndarray, Y: np.ndarray, lr: float) -> Contender:
    """The hand-written step: what one would type with NumPy and nothing else."""
    Ws = [w.copy() for w in weights]
    ones = np.ones((X.shape[0], 1), dtype=X.dtype)

    def step() -> float:
        inputs = []  # each layer's input with its bias column
        h = X
        for i, W in enumerate(Ws):
            a = np.hstack((ones, h))
            inputs.append(a)
            z = a @ W
            h = z if i == len(Ws) - 1 else 1 / (1 + np.exp(-z))
        diff = h - Y
        g = diff * (2 / diff.size)
        for i in range(len(Ws) - 1, -1, -1):
            a, W = inputs[i], Ws[i]
            grad_W = a.T @ g
            if i > 0:
                s = a[:, 1:]  # the previous sigmoid's output
                g = (g @ W[1:].T) * s * (1 - s)
            W -= lr * grad_W
        return float(np.vdot(diff, diff)) / diff.size

    return Contender(step, lambda: Ws)


def post_contender(weights: Weights, X: np.ndarray, Y: np.ndarray, lr: float) -> Contender:
    """The blog post's loop body, from ``post_script.py`` (one hidden layer)."""
    hidden_weights, output_weights = (w.copy() for w in weights)
    alpha = 2 * lr  # the post's error is pred - y, MSELoss's gradient is 2 (pred - y)

    def step() -> float:
        _, error = post_script.train_step(X, Y, hidden_weights, output_weights, alpha)
        return float(np.vdot(error, error)) / error.size  # as the hand-written step

    return Contender(step, lambda: [hidden_weights, output_weights])


def torch_contender(
    torch: Any, weights: Weights, X: np.ndarray, Y: np.ndarray, lr: float
) -> Contender:
    layers: list[Any] = []
    for index, w in enumerate(weights):
        linear = torch.nn.Linear(w.shape[0] - 1, w.shape[1], dtype=torch.from_numpy(w).dtype)
        with torch.no_grad():
            linear.bias.copy_(torch.from_numpy(w[0]))
            linear.weight.copy_(torch.from_numpy(w[1:].T.copy()))
        layers += [linear] if index == len(weights) - 1 else [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(tx), ty)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    def canonical() -> Weights:
        return [
            np.vstack([m.bias.detach().numpy()[None, :], m.weight.detach().numpy().T])
            for m in model
            if isinstance(m, torch.nn.Linear)
        ]

    return Contender(step, canonical)


def gemm_flops(weights: Weights, batch: int) -> float:
    """FLOPs of the step's matrix products: forward, weight gradients, input gradients
    (all but the first layer's, which nobody needs)."""
    forward = sum(2 * batch * w.shape[0] * w.shape[1] for w in weights)
    inputs = sum(2 * batch * (w.shape[0] - 1) * w.shape[1] for w in weights[1:])
    return 2 * forward + inputs


def make_case(
    name: str, weights: Weights, X: np.ndarray, Y: np.ndarray, lr: float, *,
    post: bool, torch: Any,
) -> Case:
    dtype = X.dtype
    weights = [w.astype(dtype) for w in weights]
    contenders = {
        "minigrad": minigrad_contender(sigmoid_mlp(weights, dtype), X, Y, lr),
        "numpy": numpy_contender(weights, X, Y, lr),
    }
    if post:
        contenders["post"] = post_contender(weights, X, Y, lr)
    notes = []
    if torch is not None:
        contenders["torch"] = torch_contender(torch, weights, X, Y, lr)
    else:
        notes.append("PyTorch column skipped (--no-torch, or torch not importable)")
    return Case(name, dtype, contenders, gemm_flops(weights, X.shape[0]), notes)


# -- the cases ------------------------------------------------------------------------------


def blog_case(dtype: np.dtype[Any], quick: bool, torch: Any) -> Case:
    """The blog post's net: 3 inputs + bias -> 3 sigmoid + bias -> 1, 6 samples, full batch."""
    model = blog_net.build_model()
    weights = [p.data for p in model.parameters()]
    X = blog_net.X.astype(dtype)
    Y = blog_net.Y.astype(dtype)
    return make_case("blog net", weights, X, Y, blog_net.LEARNING_RATE, post=True, torch=torch)


def mlp_problem(dtype: np.dtype[Any], quick: bool) -> tuple[str, Weights, np.ndarray, np.ndarray]:
    """784-1024-1024-10 sigmoid MLP (bias nodes), batch 256, MSE; --quick: 784-64-64-10, 32:
    its name, initial weights, inputs and targets."""
    sizes, batch = ([784, 64, 64, 10], 32) if quick else ([784, 1024, 1024, 10], 256)
    rng = np.random.default_rng(0)
    draw = mg.init.xavier_uniform()
    weights = [draw((a + 1, b), rng, np.dtype(np.float64)) for a, b in itertools.pairwise(sizes)]
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    Y = rng.random((batch, sizes[-1])).astype(dtype)
    return "MLP " + "-".join(map(str, sizes)) + f", batch {batch}", weights, X, Y


def mlp_case(dtype: np.dtype[Any], quick: bool, torch: Any) -> Case:
    """The big MLP (`mlp_problem`) on NumPy."""
    name, weights, X, Y = mlp_problem(dtype, quick)
    return make_case(name, weights, X, Y, 0.1, post=False, torch=torch)


def mlp_torch_case(dtype: np.dtype[Any], quick: bool, torch: Any) -> Case:
    """The big MLP with minigrad's model on torch CPU tensors, next to native PyTorch (and
    the hand-written NumPy step, the reference every contender is checked against)."""
    name, weights, X, Y = mlp_problem(dtype, quick)
    weights = [w.astype(dtype) for w in weights]
    contenders = {
        "minigrad": minigrad_torch_contender(torch, sigmoid_mlp(weights, dtype), X, Y, 0.1),
        "numpy": numpy_contender(weights, X, Y, 0.1),
        "torch": torch_contender(torch, weights, X, Y, 0.1),
    }
    return Case(name + ", minigrad on torch tensors", dtype, contenders,
                gemm_flops(weights, X.shape[0]))


CASES: dict[str, tuple[Callable[[np.dtype[Any], bool, Any], Case], tuple[str, ...]]] = {
    "blog": (blog_case, ("float64",)),
    "mlp": (mlp_case, ("float32", "float64")),
    "mlp-torch": (mlp_torch_case, ("float32",)),
}
"""name -> (builder, dtypes it runs in); ``--dtype`` picks among those."""


# -- checking and timing --------------------------------------------------------------------


def check(case: Case, steps: int = 2) -> None:
    """Every contender's losses and weight updates must match the hand-written step's."""
    tol = 1e-4 if case.dtype == np.float32 else 1e-9
    before = [w.copy() for w in case.contenders["numpy"].weights()]
    results = {}
    for name, contender in case.contenders.items():
        losses = [contender.step() for _ in range(steps)]
        updates = [w - w0 for w, w0 in zip(contender.weights(), before)]
        results[name] = (np.array(losses), updates)
    ref_losses, ref_updates = results["numpy"]
    for name, (losses, updates) in results.items():
        ok = np.allclose(losses, ref_losses, rtol=tol, atol=0) and all(
            u.shape == r.shape and np.allclose(u, r, rtol=tol, atol=tol * np.abs(r).max())
            for u, r in zip(updates, ref_updates)
        )
        if not ok:
            raise SystemExit(f"{case.name} {case.dtype}: {name} disagrees with the hand-written "
                             f"NumPy step (losses {losses} vs {ref_losses})")


def calibrate(step: Callable[[], float], target: float) -> int:
    """How many steps make a timed block of about ``target`` seconds (at least 1)."""
    start = time.perf_counter()
    step()
    once = time.perf_counter() - start
    return max(1, int(target / max(once, 1e-7)))


def measure(contenders: dict[str, Contender], rounds: int) -> dict[str, float]:
    """Median seconds per step of each contender (see `measure_samples`)."""
    samples = measure_samples(contenders, rounds)
    return {name: float(np.median(times)) for name, times in samples.items()}


def measure_samples(contenders: dict[str, Contender], rounds: int, *, pause: bool = True
                    ) -> dict[str, list[float]]:
    """Seconds per step of each contender, sampled interleaved round by round.

    Each turn starts with an untimed step. Steps slower than a millisecond run
    multi-threaded GEMMs, so their turn also starts with a pause in which the previous
    library's worker threads stop spin-waiting (OpenBLAS's spin for ~0.1 s, OpenMP's
    too), and then times 3 steps one by one; fast steps are timed in ~2 ms blocks.
    ``pause=False`` skips the pause: at one thread nothing spins, and an idle 0.2 s
    before a turn only makes its first steps slower (cold caches and clocks).
    """
    blocks = {name: calibrate(c.step, 2e-3) for name, c in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            step, n = contenders[name].step, blocks[name]
            if n == 1 and pause:
                time.sleep(0.2)
            step()
            for _ in range(3 if n == 1 else 1):
                start = time.perf_counter()
                for _ in range(n):
                    step()
                samples[name].append((time.perf_counter() - start) / n)
    return samples


def gemm_peak(dtype: np.dtype[Any], n: int, repeats: int = 7) -> float:
    """GFLOP/s of an ``n × n`` matmul: the best of ``repeats`` (a peak, so the best)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def checkout_env() -> dict[str, str]:
    """The environment of a timed ``python``: this checkout's minigrad first on the path,
    and bytecode written and reused (``PYTHONDONTWRITEBYTECODE`` unset), as users run it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def subprocess_times(commands: dict[str, list[str]], runs: int
                     ) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """Median wall and CPU (user + sys) seconds of each command, run in turn ``runs``
    times after one untimed run each (which also writes the bytecode), and the output
    of each command's last run. The bytecode goes to a temporary folder
    (``PYTHONPYCACHEPREFIX``), removed afterwards: cached for the timed runs, as users
    run it, without writing ``__pycache__`` folders into the checkout."""
    with tempfile.TemporaryDirectory(prefix="minigrad-bytecode-") as bytecode:
        return _subprocess_times(commands, runs, {**checkout_env(),
                                                  "PYTHONPYCACHEPREFIX": bytecode})


def _subprocess_times(commands: dict[str, list[str]], runs: int, env: dict[str, str]
                      ) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    outputs = {}
    for round_ in range(runs + 1):
        for name, command in commands.items():
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            seconds = time.perf_counter() - start
            now = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_:  # round 0 warms up
                wall[name].append(seconds)
                cpu[name].append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)
            outputs[name] = done.stdout
    medians = {name: (float(np.median(wall[name])), float(np.median(cpu[name])))
               for name in commands}
    return medians, outputs


def process_times(runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of ``python examples/blog_net.py`` and of the post's
    script, run alternately; both must print the same predictions."""
    times, stdout = subprocess_times(
        {"minigrad": [sys.executable, str(ROOT / "examples" / "blog_net.py")],
         "post": [sys.executable, str(ROOT / "benchmarks" / "post_script.py")]}, runs)
    outputs = {name: np.array([float(v) for v in re.findall(r"[-+]?\d\.\d+(?:e[-+]\d+)?", text)])
               for name, text in stdout.items()}
    if outputs["minigrad"].size != 6 or not np.allclose(outputs["minigrad"], outputs["post"],
                                                        rtol=1e-6):
        raise SystemExit(f"blog_net.py and post_script.py print different predictions: "
                         f"{outputs['minigrad']} vs {outputs['post']}")
    return times


BLOG_NET_NAMES = "mg.Sequential, mg.Bias, mg.Dense, mg.Sigmoid, mg.Identity, mg.MSELoss, mg.SGD"
IMPORTS = {
    "import numpy": "import numpy",
    "import minigrad": "import minigrad",
    "import numpy, numpy.random": "import numpy, numpy.random",
    "the blog net's imports": f"import numpy, numpy.random, minigrad as mg; {BLOG_NET_NAMES}, "
                              "mg.init.uniform",
}
"""What ``--cases import`` times: each line a whole ``python -c`` process. The blog net's
imports: what examples/blog_net.py uses (NumPy's random module draws the post's weights)."""


def import_times(runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each ``python -c`` of `IMPORTS`, run in turn."""
    commands = {name: [sys.executable, "-c", code] for name, code in IMPORTS.items()}
    return subprocess_times(commands, runs)[0]


def digits_epoch_times(epochs: int, torch: Any) -> dict[str, tuple[float, float]]:
    """Seconds per epoch and test accuracy of the digits MLP (examples/digits.py:
    64 -> 384 ReLU -> 10, softmax cross-entropy, Adam, batches of 32, shuffled) trained
    for ``epochs`` epochs by minigrad's `fit`, scikit-learn's ``MLPClassifier`` and a
    PyTorch loop with the same architecture, optimizer, learning rate and batch size."""
    X_train, X_test, y_train, y_test = digits.load_split()
    results: dict[str, tuple[float, float]] = {}

    model = digits.build_model(0)
    optimizer = mg.Adam(model.parameters(), lr=digits.LEARNING_RATE)
    start = time.perf_counter()
    mg.fit(model, mg.CrossEntropyLoss(), optimizer, X_train, y_train, epochs=epochs,
           batch_size=digits.BATCH_SIZE, rng=0, progress=False)
    seconds = (time.perf_counter() - start) / epochs
    results["minigrad"] = (seconds, mg.accuracy(mg.predict(model, X_test), y_test))

    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(
        hidden_layer_sizes=(digits.HIDDEN,), solver="adam", alpha=0.0,
        batch_size=digits.BATCH_SIZE, learning_rate_init=digits.LEARNING_RATE,
        max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():  # "did not converge": it runs exactly `epochs` epochs
        warnings.simplefilter("ignore")
        classifier.fit(X_train, y_train)
    seconds = (time.perf_counter() - start) / epochs
    results["scikit-learn"] = (seconds, float(classifier.score(X_test, y_test)))

    if torch is not None:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, digits.HIDDEN), torch.nn.ReLU(),
                                  torch.nn.Linear(digits.HIDDEN, 10)).double()
        opt = torch.optim.Adam(net.parameters(), lr=digits.LEARNING_RATE)
        loss_fn = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(X_train), torch.from_numpy(y_train)
        start = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(len(tx))
            for begin in range(0, len(tx), digits.BATCH_SIZE):
                index = order[begin:begin + digits.BATCH_SIZE]
                loss = loss_fn(net(tx[index]), ty[index])
                opt.zero_grad()
                loss.backward()
                opt.step()
        seconds = (time.perf_counter() - start) / epochs
        with torch.no_grad():
            predicted = net(torch.from_numpy(X_test)).argmax(1).numpy()
        results["torch"] = (seconds, float(np.mean(predicted == y_test)))
    return results


# -- the report -----------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def ratio(a: float, b: float | None) -> str:
    return "--" if b is None else f"{a / b:.2f}×"


def blas_description() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '')} "
        f"({i.get('num_threads')} threads)"
        for i in threadpool_info()
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed rounds per contender")
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--cases", nargs="+", choices=[*CASES, "import", "process", "digits"],
                        default=[*CASES, "import", "process", "digits"],
                        help="default: all (mlp-torch only with PyTorch)")
    parser.add_argument("--digits-epochs", type=int, default=digits.EPOCHS)
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--threads", type=int, help="BLAS/PyTorch threads (default: all)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            parser.error("--threads needs threadpoolctl (pip install threadpoolctl)")
        threadpool_limits(args.threads)

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("note: PyTorch is not importable; its column is skipped")
    if torch is not None and args.threads is not None:
        torch.set_num_threads(args.threads)

    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# minigrad {mg.__version__} benchmarks, {now}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""))
    print(f"BLAS: {blas_description()}")
    print(f"env: OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"median of {args.steps} interleaved rounds after warm-up\n")

    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    peak_n = 256 if args.quick else 2048
    peaks = {d: gemm_peak(np.dtype(d), peak_n) for d in dtypes}

    results: list[tuple[Case, dict[str, float]]] = []
    for name in args.cases:
        if name in ("import", "process", "digits"):
            continue
        if name == "mlp-torch" and torch is None:
            print("note: mlp-torch case skipped (needs PyTorch)")
            continue
        build, case_dtypes = CASES[name]
        for dtype in (d for d in case_dtypes if d in dtypes):
            case = build(np.dtype(dtype), args.quick, torch)
            check(case)
            results.append((case, measure(case.contenders, args.steps)))
    # Measured again afterwards: a peak taken while the machine was busy is no peak.
    peaks = {d: max(p, gemm_peak(np.dtype(d), peak_n)) for d, p in peaks.items()}
    print(f"GEMM peak ({peak_n}×{peak_n} matmul, best of 14): "
          + ", ".join(f"{d} {p:.0f} GFLOP/s" for d, p in peaks.items()) + "\n")
    header = ("| case | dtype | minigrad | numpy | post | torch | mg/numpy | mg/torch "
              "| post/mg | minigrad GFLOP/s (% of peak) | numpy % of peak |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for case, t in results:
        ours, peak = t["minigrad"], peaks[case.dtype.name]
        print(f"| {case.name} | {case.dtype} | {fmt_time(ours)} | {fmt_time(t['numpy'])} "
              f"| {fmt_time(t.get('post'))} | {fmt_time(t.get('torch'))} "
              f"| {ratio(ours, t['numpy'])} | {ratio(ours, t.get('torch'))} "
              f"| {ratio(t['post'], ours) if 'post' in t else '--'} "
              f"| {case.flops / ours / 1e9:.1f} ({100 * case.flops / ours / 1e9 / peak:.0f} %) "
              f"| {100 * case.flops / t['numpy'] / 1e9 / peak:.0f} % |")
    if "import" in args.cases:
        runs = max(2, args.steps // 2)
        times = import_times(runs)
        base_wall, base_cpu = times["import numpy"]
        print(f"\nstart-up (median of {runs} alternating `python -c` runs, bytecode cached):")
        print("| command | wall | CPU | wall / numpy | CPU / numpy |")
        print("|---|---|---|---|---|")
        for name, (wall, cpu) in times.items():
            print(f"| {name} | {fmt_time(wall)} | {fmt_time(cpu)} | {ratio(wall, base_wall)} "
                  f"| {ratio(cpu, base_cpu)} |")
    if "process" in args.cases:
        runs = max(2, args.steps // 3)
        times = process_times(runs)
        (ours, ours_cpu), (post, post_cpu) = times["minigrad"], times["post"]
        print(f"\nwhole process (median of {runs} alternating runs): "
              f"`python examples/blog_net.py` {fmt_time(ours)} wall, {fmt_time(ours_cpu)} CPU; "
              f"`python benchmarks/post_script.py` {fmt_time(post)} wall, {fmt_time(post_cpu)} "
              f"CPU; ratio {ours / post:.2f}× wall, {ours_cpu / post_cpu:.2f}× CPU")
    if "digits" in args.cases:
        try:
            import sklearn  # noqa: F401  # the data set and the MLPClassifier
        except ImportError:
            print("\nnote: digits case skipped (needs scikit-learn: pip install '.[examples]')")
        else:
            epochs = 2 if args.quick else args.digits_epochs
            print(f"\ndigits MLP 64-384-10, Adam, batch 32, float64, {epochs} epochs:")
            print("| contender | time per epoch | test accuracy | vs minigrad |")
            print("|---|---|---|---|")
            timings = digits_epoch_times(epochs, torch)
            for name, (seconds, accuracy) in timings.items():
                print(f"| {name} | {fmt_time(seconds)} | {accuracy:.2%} "
                      f"| {ratio(seconds, timings['minigrad'][0])} |")
    for note in dict.fromkeys(note for case, _ in results for note in case.notes):
        print(f"note: {note}")


if __name__ == "__main__":
    main()
