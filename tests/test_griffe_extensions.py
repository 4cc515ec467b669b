"""tools/griffe_extensions.py: the API reference's parameter tables are right.

Every parameter of every docstring in minigrad, read as mkdocstrings reads it: its
type column holds a type (no range such as ``>= 1``), and a parameter with a default
in the signature is never marked "required". Needs the docs extra (griffe).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from conftest import ROOT

griffe = pytest.importorskip("griffe")

RANGE = re.compile(r"(?<![-=])(>=|<=|≥|≤|>|<)\s*[-+\w.]|\bin\s+[\[(]")


def load_extensions_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "griffe_extensions", ROOT / "tools" / "griffe_extensions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extensions = load_extensions_module()


def test_a_group_becomes_one_item_per_name_and_ranges_move_to_the_description() -> None:
    text = "\n".join([
        "A convolution.",
        "",
        "Parameters",
        "----------",
        "in_channels, out_channels : int >= 1",
        "    Both divisible by ``groups``.",
        "kernel_size, stride, dilation : int or (int, int), >= 1",
        'padding : int or (int, int) >= 0, "valid" or "same", default 0',
        "    Zeros added.",
        "rtol, atol : float, default 1e-5, 1e-7",
        "betas : (float, float), each in [0, 1), default (0.9, 0.999)",
        'reduction : "none", "mean" or "sum", default "mean"',
        "weight : array_like of shape ``(C,)``, optional",
        "metrics : sequence of callables ``(pred, target) -> float``",
        "rng : int, numpy Generator or RandomState, optional",
        "X, y : array_like, shapes ``(N, ...)``",
        "    Inputs and targets.",
        "",
        "Returns",
        "-------",
        "a, b : int >= 1",
    ])
    assert extensions.split_parameter_items(text).split("\n") == [
        "A convolution.",
        "",
        "Parameters",
        "----------",
        "in_channels : int",
        "    `in_channels` ≥ 1.",
        "    Both divisible by ``groups``.",
        "out_channels : int",
        "    `out_channels` ≥ 1.",
        "    Both divisible by ``groups``.",
        "kernel_size : int or (int, int)",
        "    `kernel_size` ≥ 1.",
        "stride : int or (int, int)",
        "    `stride` ≥ 1.",
        "dilation : int or (int, int)",
        "    `dilation` ≥ 1.",
        'padding : int or (int, int) or "valid" or "same", default 0',
        "    `padding` ≥ 0.",
        "    Zeros added.",
        "rtol : float, default 1e-5",
        "atol : float, default 1e-7",
        "betas : (float, float), default (0.9, 0.999)",
        "    `betas` each in [0, 1).",
        'reduction : "none" or "mean" or "sum", default "mean"',
        "weight : array_like of shape (C,), optional",
        "metrics : sequence of callables (pred, target) -> float",  # ``->`` is no range
        "rng : int, numpy Generator or RandomState, optional",  # prose: left as written
        "X : array_like",  # not (array_like, shapes(N, ...)), a tuple
        "    Shapes ``(N, ...)``.",
        "    Inputs and targets.",
        "y : array_like",
        "    Shapes ``(N, ...)``.",
        "    Inputs and targets.",
        "",
        "Returns",  # only parameter sections are rewritten
        "-------",
        "a, b : int >= 1",
    ]


def documented_objects(extension_names: list[str]) -> Iterator[Any]:
    """Every object of minigrad with a docstring, loaded as mkdocs.yml loads them."""
    loaded = griffe.load_extensions(
        *(f"{ROOT / 'tools' / 'griffe_extensions.py'}:{name}" for name in extension_names)
    )
    package = griffe.load("minigrad", search_paths=[str(ROOT)], extensions=loaded,
                          docstring_parser="numpy")
    pending = [package]
    while pending:
        obj = pending.pop()
        if obj.docstring is not None:
            yield obj
        pending += [m for m in obj.members.values() if not m.is_alias]


def table_problems(extension_names: list[str]) -> list[str]:
    problems = []
    for obj in documented_objects(extension_names):
        signature = {}
        # a module or an attribute has no parameters; nor has a class without an __init__
        with contextlib.suppress(AttributeError, KeyError):
            signature = {p.name: p.default for p in obj.parameters}
        for section in obj.docstring.parsed:
            if section.kind.value != "parameters":
                continue
            for parameter in section.value:
                where = f"{obj.path}({parameter.name})"
                if RANGE.search(str(parameter.annotation or "")):
                    problems.append(f"{where}: a range in the type {parameter.annotation!s}")
                if signature.get(parameter.name) is not None and parameter.value is None:
                    problems.append(f"{where}: 'required', but defaults to "
                                    f"{signature[parameter.name]}")
    return problems


def test_every_parameter_table_of_minigrad_is_right() -> None:
    assert table_problems(["DoctestsAsCode", "ParameterTables"]) == []


def test_without_the_extension_the_tables_are_wrong() -> None:
    # The check above can fail: griffe alone gets Conv2D's stride and ELU's alpha wrong.
    # (The module paths are not asserted: the modules move, the class names stay.)
    problems = [problem.split(".")[-1] for problem in table_problems(["DoctestsAsCode"])]
    assert "Conv2D(stride): 'required', but defaults to 1" in problems
    assert "ELU(alpha): a range in the type float ≥ 0" in problems


def test_a_group_of_bare_names_is_split_too() -> None:
    # ConvTranspose2D's "in_channels, ..., dtype" (types from the signature): grouped,
    # griffe gave them all the first name's default -- every one "required".
    text = "Parameters\n----------\nstride, bias\n    As `Conv2D`.\nx\n    One."
    assert extensions.split_parameter_items(text).split("\n") == [
        "Parameters", "----------", "stride", "    As `Conv2D`.", "bias", "    As `Conv2D`.",
        "x", "    One.",
    ]
