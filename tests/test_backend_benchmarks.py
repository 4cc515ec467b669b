"""Smoke tests of the backend benchmarks: they run, and their checks against NumPy pass.

Speed itself is measured by hand (see benchmarks/README.md); here ``benchmarks/gpu.py``
runs on the CPU (``--device cpu``), and the ``mlp-torch`` case of ``bench.py`` in quick
mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_gpu_script_on_the_cpu() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")  # the digits
    done = _run("gpu.py", "--device", "cpu", "--quick", "--models", "blog", "mlp", "cnn")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[2].strip() for row in rows] == ["torch cpu"] * 3
    assert all(row.rstrip().endswith("(ok) |") for row in rows), rows
    assert all(re.fullmatch(r"[\d.]+ (µs|ms)", row.split("|")[4].strip()) for row in rows), (
        "a native PyTorch time in each row")


def test_bench_mlp_torch_case() -> None:
    pytest.importorskip("torch")
    done = _run("bench.py", "--quick", "--steps", "2", "--threads", "1", "--cases", "mlp-torch")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == [
        "MLP 784-64-64-10, batch 32, minigrad on torch tensors"
    ]
    assert rows[1].split("|")[7].strip().endswith("×")  # the mg/torch ratio
