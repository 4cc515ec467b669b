"""pytest, for the whole tree: skip importing (for their doctests) the modules of
``minigrad.export`` whose optional dependency is not installed -- ``minigrad[onnx]``,
``minigrad[torch]`` -- as their tests skip themselves with ``pytest.importorskip``."""

from __future__ import annotations

import importlib.util

collect_ignore = [
    f"minigrad/export/{module}.py"
    for module, needs in [("onnx", ("onnx", "onnxruntime")), ("torch", ("torch",))]
    if any(importlib.util.find_spec(name) is None for name in needs)
]
