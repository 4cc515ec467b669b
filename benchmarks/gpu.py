"""The examples' models trained by minigrad on a GPU, checked against NumPy, timed next to
native PyTorch.

    python benchmarks/gpu.py [--device cuda|cuda:1|cpu] [--models blog mlp cnn] [--quick]

For a person with a GPU (it needs PyTorch; CuPy too, if installed). Each model -- the
blog net (examples/blog_net.py), the digits MLP (examples/digits.py) and the digits CNN
(examples/digits_cnn.py; the digits need scikit-learn) -- is built once on NumPy and
copied with ``model.to(torch, device=...)`` (and ``model.to(cupy)``). Then:

1. **Check.** The NumPy model and each moved copy are trained by `mg.fit` on the same
   data with the same shuffling ``rng`` and the same SGD with momentum, and their
   predictions on held-out data must agree to float32 tolerance (``rtol=atol=1e-3`` of
   the predictions' scale): the same hand-written layers, whatever the array library.
   Not the example's Adam: its first steps are ``lr · sign(g)``, so where a gradient is
   near zero, summing in another order (another library, another kernel) flips a sign
   and moves a weight by ``2 lr`` -- a difference of rounding, amplified, not an error.
2. **Time.** One training step on a fixed batch -- forward, loss, ``zero_grad``,
   ``backward_params``, optimizer step -- timed with the device synchronized, next to
   the same architecture in native PyTorch (``torch.nn`` + autograd + ``torch.optim``,
   the same optimizer and dtype) on the same device.

``--device cpu`` runs everything on PyTorch CPU tensors (CuPy skipped), which is how the
test suite smoke-tests this script (``--quick``: small data, few steps). The exit status
is 1 when a check fails or a model cannot run on a library (its error is printed).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import backend

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import blog_net  # noqa: E402
import digits  # noqa: E402
import digits_cnn  # noqa: E402


@dataclass
class Problem:
    """One example: its NumPy model, how it trains, and the data."""

    name: str
    model: mg.Sequential
    loss: Callable[[], mg.Loss[Any]]
    optimizer: Callable[[list[mg.Parameter]], mg.Optimizer]
    native: Callable[[Any], Any]  # torch -> the same architecture in torch.nn
    native_optimizer: Callable[[Any, Any], Any]  # (torch, parameters) -> torch.optim
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    epochs: int
    batch_size: int
    check_lr: float = 0.05  # the check's SGD (see the module docstring)


def blog_problem(quick: bool) -> Problem:
    def native(torch: Any) -> Any:
        nn = torch.nn
        return nn.Sequential(nn.Linear(3, blog_net.HIDDEN), nn.Sigmoid(),
                             nn.Linear(blog_net.HIDDEN, 1))

    return Problem(
        "blog net 3-3-1, SGD, full batch of 6", blog_net.build_model(), mg.MSELoss,
        lambda params: mg.SGD(params, lr=blog_net.LEARNING_RATE), native,
        lambda torch, params: torch.optim.SGD(params, lr=blog_net.LEARNING_RATE),
        blog_net.X, blog_net.Y.astype(np.float64), blog_net.X, 20 if quick else 2000, 6,
        check_lr=blog_net.LEARNING_RATE / 10,  # with momentum 0.9: the same step size
    )


def digits_data(quick: bool, images: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X_train, X_test, y_train, _ = digits_cnn.load_images() if images else digits.load_split()
    if quick:
        X_train, y_train, X_test = X_train[:96], y_train[:96], X_test[:64]
    return X_train, y_train, X_test


def mlp_problem(quick: bool) -> Problem:
    def native(torch: Any) -> Any:
        nn = torch.nn
        return nn.Sequential(nn.Linear(64, digits.HIDDEN), nn.ReLU(), nn.Linear(digits.HIDDEN, 10))

    X, y, X_test = digits_data(quick, images=False)
    return Problem(
        f"digits MLP 64-{digits.HIDDEN}-10, Adam, batch {digits.BATCH_SIZE}",
        digits.build_model(0), mg.CrossEntropyLoss,
        lambda params: mg.Adam(params, lr=digits.LEARNING_RATE), native,
        lambda torch, params: torch.optim.Adam(params, lr=digits.LEARNING_RATE),
        X, y, X_test, 1 if quick else 3, digits.BATCH_SIZE,
    )


def cnn_problem(quick: bool) -> Problem:
    width = digits_cnn.WIDTH

    def native(torch: Any) -> Any:
        nn = torch.nn
        return nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 4, 10),
        )

    X, y, X_test = digits_data(quick, images=True)
    return Problem(
        f"digits CNN (width {width}), Adam, batch {digits_cnn.BATCH_SIZE}",
        digits_cnn.build_model(0), mg.CrossEntropyLoss,
        lambda params: mg.Adam(params, lr=digits_cnn.LEARNING_RATE), native,
        lambda torch, params: torch.optim.Adam(params, lr=digits_cnn.LEARNING_RATE),
        X, y, X_test, 1 if quick else 2, digits_cnn.BATCH_SIZE,
    )


PROBLEMS: dict[str, Callable[[bool], Problem]] = {
    "blog": blog_problem, "mlp": mlp_problem, "cnn": cnn_problem,
}


@dataclass
class Library:
    """Where a moved model computes: the library module, its device, how to wait for it."""

    label: str
    module: Any
    device: Any
    synchronize: Callable[[], None]


def libraries(torch: Any, device: str, cupy: bool) -> list[Library]:
    found = []
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (
        lambda: None)
    found.append(Library(f"torch {device}", torch, device, sync))
    if cupy and device.startswith("cuda"):
        try:
            import cupy as cp
        except ImportError:
            print("note: CuPy is not installed; its rows are skipped")
        else:
            found.append(Library("cupy", cp, None, lambda: cp.cuda.Device().synchronize()))
    return found


def fitted_predictions(problem: Problem, model: mg.Sequential, put: Callable[[np.ndarray], Any]
                       ) -> np.ndarray:
    """Train ``model`` as the example does (`mg.fit`, shuffling from ``rng=0``), with the
    check's SGD, and return its predictions on the held-out data, as NumPy."""
    optimizer = mg.SGD(model.parameters(), lr=problem.check_lr, momentum=0.9)
    mg.fit(model, problem.loss(), optimizer, put(problem.X),
           put(problem.y), epochs=problem.epochs, batch_size=problem.batch_size, rng=0,
           progress=False)
    return backend.to_numpy(mg.predict(model, put(problem.X_test)))


def seconds_per_step(step: Callable[[], object], synchronize: Callable[[], None], steps: int
                     ) -> float:
    """The median over 5 blocks of ``steps`` steps, each block ended by a synchronization
    (after 3 warm-up steps)."""
    for _ in range(3):
        step()
    times = []
    for _ in range(5):
        synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        times.append((time.perf_counter() - start) / steps)
    return float(np.median(times))


def minigrad_step(problem: Problem, model: mg.Sequential, xb: Any, yb: Any) -> Callable[[], float]:
    loss_fn, optimizer = problem.loss(), problem.optimizer(model.parameters())

    def step() -> float:
        loss = float(loss_fn(model(xb), yb))
        optimizer.zero_grad()
        model.backward_params(loss_fn.backward())
        optimizer.step()
        return loss

    return step


def native_step(problem: Problem, torch: Any, device: str, dtype: np.dtype[Any]
                ) -> Callable[[], None]:
    net = problem.native(torch).to(device=device, dtype=getattr(torch, dtype.name))
    optimizer = problem.native_optimizer(torch, net.parameters())
    loss_fn = torch.nn.MSELoss() if problem.y.dtype.kind == "f" else torch.nn.CrossEntropyLoss()
    xb = torch.asarray(problem.X[: problem.batch_size], device=device)
    yb = torch.asarray(problem.y[: problem.batch_size], device=device)

    def step() -> None:  # no .item(): PyTorch need not wait for the device
        optimizer.zero_grad()
        loss_fn(net(xb), yb).backward()
        optimizer.step()

    return step


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def run(problem: Problem, library: Library, torch: Any, reference: np.ndarray, steps: int
        ) -> tuple[bool, str]:
    """Check and time ``problem`` on ``library``: (passed, the table row)."""
    xp = backend.resolve(library.module)

    def put(array: np.ndarray) -> Any:
        return backend.asarray(np.asarray(array), xp, library.device)

    moved = copy.deepcopy(problem.model).to(library.module, device=library.device)
    predictions = fitted_predictions(problem, moved, put)
    scale = max(1.0, float(np.abs(reference).max()))
    error = float(np.abs(predictions - reference).max())
    passed = bool(np.allclose(predictions, reference, rtol=1e-3, atol=1e-3 * scale))
    timed = copy.deepcopy(problem.model).to(library.module, device=library.device)
    ours = seconds_per_step(minigrad_step(problem, timed, put(problem.X[: problem.batch_size]),
                                          put(problem.y[: problem.batch_size])),
                            library.synchronize, steps)
    theirs = None
    if library.module is torch:
        dtype = backend.numpy_dtype(problem.model.parameters()[0].dtype)
        theirs = seconds_per_step(native_step(problem, torch, library.device, dtype),
                                  library.synchronize, steps)
    ratio = "--" if theirs is None else f"{ours / theirs:.2f}×"
    verdict = "ok" if passed else "MISMATCH"
    return passed, (f"| {problem.name} | {library.label} | {fmt(ours)} | {fmt(theirs)} "
                    f"| {ratio} | {error:.1e} ({verdict}) |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="a torch device: cuda, cuda:1, cpu")
    parser.add_argument("--models", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--steps", type=int, default=50, help="steps per timed block")
    parser.add_argument("--quick", action="store_true", help="little data, few steps (smoke test)")
    parser.add_argument("--no-cupy", action="store_true", help="skip CuPy even if installed")
    args = parser.parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("PyTorch sees no CUDA device; use --device cpu to smoke-test on the CPU")
    steps = 2 if args.quick else args.steps
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"# minigrad {mg.__version__} on {where}: PyTorch {torch.__version__}, "
          f"NumPy {np.__version__}\n")
    print("| model | library | minigrad step | native PyTorch step | minigrad/native "
          "| max |Δ prediction| vs NumPy |")
    print("|---|---|---|---|---|---|")
    failed = False
    for name in args.models:
        try:
            problem = PROBLEMS[name](args.quick)
        except ImportError as exc:  # scikit-learn, for the digits
            print(f"| {name} | -- | skipped: {exc} | | | |")
            continue
        reference = fitted_predictions(problem, copy.deepcopy(problem.model), np.asarray)
        for library in libraries(torch, args.device, not args.no_cupy):
            try:
                passed, row = run(problem, library, torch, reference, steps)
            except Exception as exc:  # report, and go on with the next model
                failed = True
                print(f"| {problem.name} | {library.label} | FAILED: "
                      f"{type(exc).__name__}: {exc} | | | |")
                traceback.print_exc(file=sys.stderr)
                continue
            failed |= not passed
            print(row)
    print("\nminigrad's step includes the loss as a Python float (one wait for the device "
          "per step); the native step does not wait.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
