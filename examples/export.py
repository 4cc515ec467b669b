"""Train the digits CNN in minigrad, export it, and run it in onnxruntime and PyTorch.

The model is ``examples/digits_cnn.py``'s (three convolutions, two max-pools, dropout,
a Dense with bias; float32), trained by its `train` -- shifted images, Adam with a
cosine schedule -- for 3 epochs (``--epochs``; that example's 30 reach 99.1-99.8 %). It is
exported with ``minigrad.export.to_onnx`` (input ``(batch, 1, 8, 8)``, any batch size)
and ``minigrad.export.to_torch``; the three runtimes then predict the 450 test images.
Printed: each runtime's largest difference from minigrad's logits, how many predicted
classes agree, and the time per batch of 256 images in each (default thread settings,
the best of a few repeats).

Measured (``OPENBLAS_NUM_THREADS=1 python examples/export.py``, three runs, and one
without the variable; the machine and the date: the README's Examples; re-measured,
three runs, after the last convolution changes of issue 23): 97.56 % test accuracy after
the 3 epochs; onnxruntime's and PyTorch's logits within 4.8e-6 and 5.2e-6 of minigrad's,
all 450 predicted classes the same; 7.2-9.5 s of CPU a run, 8.4 s the median. The times
per batch of 256 varied severalfold from run to run on that busy machine: minigrad
15-16 ms, onnxruntime 2.5-7.5 ms, PyTorch 6-132 ms.

To export another model, change `train` below: that is the one line.

Needs scikit-learn, onnx, onnxruntime and torch: ``pip install
"minigrad[examples,onnx,torch]"``. Run ``python examples/export.py [--epochs N]
[--onnx PATH]``; importing this file trains nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import digits_cnn
import numpy as np

import minigrad as mg
from minigrad.export import to_onnx, to_torch

train: Callable[[int, int], tuple[mg.Layer, float, float]] = digits_cnn.train  # what to export
EPOCHS = 3
TIMING_BATCH = 256


def best_time(run: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``run``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(epochs: int = EPOCHS, seed: int = 0, onnx_path: str | None = None,
         timing_batches: int = 20) -> dict[str, float]:
    """Train, export, compare; returns each runtime's largest difference from minigrad."""
    import onnxruntime
    import torch

    _, X_test, _, y_test = digits_cnn.load_images()
    model, _, _ = train(epochs, seed)
    with tempfile.TemporaryDirectory() as folder:
        path = onnx_path or os.path.join(folder, "model.onnx")
        to_onnx(model, path, input_shape=(None, *X_test.shape[1:]))
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    module = to_torch(model).eval()

    def run_onnx(x: mg.Array) -> mg.Array:
        out: mg.Array = session.run(None, {"input": x})[0]
        return out

    def run_torch(x: mg.Array) -> mg.Array:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    runtimes: dict[str, Callable[[mg.Array], mg.Array]] = {
        "minigrad": lambda x: mg.predict(model, x),
        "onnxruntime": run_onnx,
        "torch": run_torch,
    }
    reference = runtimes["minigrad"](X_test)
    labels = reference.argmax(axis=1)
    timing_input = np.ascontiguousarray(X_test[:TIMING_BATCH])
    print(f"minigrad test accuracy {mg.accuracy(reference, y_test):.2%} "
          f"after {epochs} epoch(s)")
    differences = {}
    for name, run in runtimes.items():
        logits = run(X_test)
        differences[name] = float(np.abs(logits - reference).max())
        agree = int((logits.argmax(axis=1) == labels).sum())
        seconds = best_time(lambda run=run: run(timing_input), timing_batches)
        print(f"{name:12} max |logits - minigrad's| {differences[name]:.1e}, "
              f"{agree}/{len(labels)} classes agree, "
              f"{seconds * 1e3:.3f} ms per batch of {len(timing_input)}")
    del differences["minigrad"]
    return differences


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--onnx", help="keep the exported model at this path")
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.seed, arguments.onnx)
