"""Write ``tests/torch_module_configs.py``: PyTorch's own module test configurations, as
plain Python literals, for the modules minigrad has.

PyTorch tests every ``torch.nn`` module on the configurations that its
``torch/testing/_internal/common_modules.py`` lists (``module_db``: per module, a
``module_inputs_func`` returning ``ModuleInput``s -- the constructor's args/kwargs and the
forward call's args/kwargs). That file is private to PyTorch and imports its test
machinery, so the test suite does not import it: this script, run by hand, evaluates
each function (float64, CPU, ``requires_grad=True``, in training and in evaluation mode)
and writes what it finds as data:

* a floating tensor becomes ``{"tensor": shape, "dtype": "float64"}`` -- the test draws
  its values (they are random in PyTorch too);
* an integer tensor (embedding ids) ``{"tensor": shape, "dtype": "int64", "low": l,
  "high": h}``, its values' range, from which the test draws;
* a bool tensor (masks) keeps its values: ``{"tensor": shape, "dtype": "bool", "values":
  nested lists}``;
* a callable (an activation function) ``{"callable": "torch.nn.functional.gelu"}``;
* tuples stay tuples, lists lists, numbers and strings themselves.

A configuration whose inputs do not differ between the modes, of a module whose
``ModuleInfo.train_and_eval_differ`` is False, is written once (``"training": True``).

Run (torch's test helpers need ``expecttest``, which the project does not; install it
anywhere on ``PYTHONPATH``)::

    pip install --target /tmp/deps expecttest
    PYTHONPATH=/tmp/deps python tools/extract_torch_module_configs.py

Produced from torch 2.13 (``torch.__version__`` is written in the file's header).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch.testing._internal.common_modules import module_db

MODULES = [
    "Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
    "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
    "MaxUnpool3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm", "Embedding", "RNN",
    "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "ReLU", "PReLU", "ELU", "CELU",
    "SELU", "GELU", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "SiLU", "Softplus",
    "Softsign", "Softmin", "Softmax", "LogSoftmax", "LogSigmoid", "Tanhshrink", "Threshold",
    "GLU", "LeakyReLU", "Sigmoid", "Tanh", "Flatten", "Unflatten", "Upsample", "PixelShuffle",
    "PixelUnshuffle", "Dropout"
]

OUT = Path(__file__).resolve().parents[1] / "tests" / "torch_module_configs.py"


def literal(value: Any) -> Any:
    """``value`` (an argument of a constructor or a forward call) as plain data."""
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        if value.dtype == torch.bool:
            return {"tensor": shape, "dtype": "bool", "values": value.tolist()}
        if not value.dtype.is_floating_point and not value.dtype.is_complex:
            return {"tensor": shape, "dtype": str(value.dtype).removeprefix("torch."),
                    "low": int(value.min()) if value.numel() else 0,
                    "high": int(value.max()) + 1 if value.numel() else 1}
        return {"tensor": shape, "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, tuple):
        return tuple(literal(v) for v in value)
    if isinstance(value, list):
        return [literal(v) for v in value]
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if callable(value):
        return {"callable": f"{value.__module__ or 'torch'}.{value.__name__}"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"no literal form for {value!r}")


def drawn_alike(value: Any) -> Any:
    """``value`` without the ranges of integer tensors (drawn anew at each call)."""
    if isinstance(value, dict):
        return {k: drawn_alike(v) for k, v in value.items() if k not in ("low", "high")}
    if isinstance(value, (list, tuple)):
        return [drawn_alike(v) for v in value]
    return value


def configs() -> list[dict[str, Any]]:
    found = []
    for info in module_db:
        name = info.module_cls.__name__
        if name not in MODULES:
            continue
        by_mode = {}
        for training in (True, False):
            inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64,
                                             requires_grad=True, training=training)
            by_mode[training] = [
                {"module": name, "desc": mi.desc,
                 "args": literal(mi.constructor_input.args),
                 "kwargs": literal(mi.constructor_input.kwargs),
                 "forward_args": literal(mi.forward_input.args),
                 "forward_kwargs": literal(mi.forward_input.kwargs)}
                for mi in inputs]
        same = drawn_alike(by_mode[True]) == drawn_alike(by_mode[False])
        modes = [True] if not info.train_and_eval_differ and same else [True, False]
        counts: dict[str, int] = {}
        for training in modes:
            for config in by_mode[training]:
                mode = "" if len(modes) == 1 else f"[{'train' if training else 'eval'}]"
                key = f"{name}[{config['desc'] or 'default'}]{mode}"
                counts[key] = counts.get(key, 0) + 1
                found.append({"id": key if counts[key] == 1 else f"{key}#{counts[key]}",
                              "training": training, **config})
    return found


def main() -> None:
    table = configs()
    absent = sorted(set(MODULES) - {c["module"] for c in table})
    header = (
        f'"""PyTorch {torch.__version__.split("+")[0]}\'s module test configurations '
        "(torch/testing/_internal/common_modules.py,\n"
        "module_db) for the modules minigrad has, as data. GENERATED by\n"
        "tools/extract_torch_module_configs.py -- do not edit; rerun it.\n\n"
        f"Not in module_db (no configurations to take): {', '.join(absent)}.\n"
        '"""\n\n'
        "# fmt: off\n"
        "# ruff: noqa: E501\n"
        "from typing import Any\n\n"
        f"TORCH_VERSION = {torch.__version__.split('+')[0]!r}\n\n"
        "CONFIGS: list[dict[str, Any]] = "
    )
    OUT.write_text(header + "[\n" + "".join(f"    {config!r},\n" for config in table) + "]\n")
    print(f"{OUT}: {len(table)} configurations; absent from module_db: {absent}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
