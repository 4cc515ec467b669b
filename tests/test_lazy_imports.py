"""minigrad's packages export their names lazily (`minigrad.core.exports`): ``import
minigrad`` loads no family, and a script loads only the families it uses -- yet every
name is where it always was, for users and for type checkers.

Each lazy package lists its names three times: the ``_HOMES`` table (what runs), the
imports under ``TYPE_CHECKING`` (what mypy, ruff and the API reference read) and
``__all__``. These tests check that the three agree, name by name, and that the
start-up stays light: subprocesses import minigrad, or run the blog net, and list the
modules that appeared.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

import minigrad as mg
from minigrad.core.exports import lazy_exports

PACKAGE = ROOT / "minigrad"


def _lazy_packages() -> dict[str, Path]:
    """Every package of minigrad whose ``__init__`` hands a table to `lazy_exports`."""
    found = {}
    for path in sorted(PACKAGE.rglob("__init__.py")):
        if "lazy_exports(globals(), _HOMES)" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(ROOT).parent.parts
            found[".".join(parts)] = path
    return found


LAZY = _lazy_packages()


def test_the_packages_that_re_export_many_modules_are_lazy() -> None:
    assert {"minigrad", "minigrad.core", "minigrad.losses", "minigrad.optim",
            "minigrad.io"} <= set(LAZY)


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _declared(path: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """A lazy package's three lists, read from its source: the table and the
    TYPE_CHECKING imports as {name: module}, and ``__all__``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    imported: dict[str, str] = {}
    exported: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_HOMES":
            homes = ast.literal_eval(node.value)  # type: ignore[arg-type]
            for module, names in homes.items():
                assert isinstance(names, tuple), f"{path}: {module}'s names are not a tuple"
                for name in names:
                    assert name not in table, f"{path}: {name} is in _HOMES twice"
                    table[name] = module
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        imported[alias.asname or alias.name] = statement.module
        elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            exported = ast.literal_eval(node.value)
    return table, imported, exported


@pytest.mark.parametrize("package", sorted(LAZY))
def test_the_table_the_type_checking_imports_and_all_agree(package: str) -> None:
    table, imported, exported = _declared(LAZY[package])
    # Submodules exported by name (``from minigrad import export``) need no table entry.
    submodules = {name for name, module in imported.items() if module == package}
    imported = {name: module for name, module in imported.items() if name not in submodules}
    assert {n: m for n, m in imported.items() if table.get(n) != m} == {}, (
        f"{package}: under TYPE_CHECKING but not in _HOMES with that module")
    assert {n: m for n, m in table.items() if imported.get(n) != m} == {}, (
        f"{package}: in _HOMES but not imported under TYPE_CHECKING from that module")
    assert sorted(set(exported) - set(table) - submodules - {"__version__"}) == [], (
        f"{package}: in __all__ but in neither _HOMES nor the TYPE_CHECKING imports")
    assert sorted((set(table) | submodules) - set(exported)) == [], (
        f"{package}: in _HOMES but not in __all__")
    for name in submodules:
        assert importlib.util.find_spec(f"{package}.{name}") is not None, name


@pytest.mark.parametrize("package", sorted(LAZY))
def test_every_name_resolves_to_its_definition(package: str) -> None:
    module = importlib.import_module(package)
    table, _, exported = _declared(LAZY[package])
    for name in exported:
        value = getattr(module, name)
        if name in table:
            assert value is getattr(importlib.import_module(table[name]), name), name
    assert set(exported) <= set(dir(module))
    namespace: dict[str, Any] = {}
    exec(f"from {package} import *", namespace)
    assert set(exported) <= set(namespace)


def test_the_shims_keep_their_names() -> None:
    import minigrad.base
    import minigrad.core
    import minigrad.lr_scheduler
    import minigrad.optim.lr_scheduler

    assert minigrad.base.__all__ == minigrad.core.__all__
    assert all(getattr(minigrad.base, name) is getattr(minigrad.core, name)
               for name in minigrad.core.__all__)
    assert minigrad.lr_scheduler.StepLR is minigrad.optim.lr_scheduler.StepLR
    assert mg.lr_scheduler.StepLR is minigrad.lr_scheduler.StepLR


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'minigrad' has no attribute 'Dence'"):
        mg.Dence  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(mg, "__wrapped__")
    assert not hasattr(mg.optim, "no_such_optimizer")


def test_a_submodule_is_an_attribute_once_asked_for() -> None:
    assert mg.losses.regression.MSELoss is mg.MSELoss
    assert mg.export.to_onnx.__module__ == "minigrad.export"


def test_lazy_exports_on_a_package_of_its_own() -> None:
    namespace: dict[str, Any] = {"__name__": "json", "__all__": ["loads", "decoder"]}
    getattr_, dir_ = lazy_exports(namespace, {"json.decoder": ("JSONDecodeError",)})
    assert getattr_("JSONDecodeError") is json.JSONDecodeError
    assert namespace["JSONDecodeError"] is json.JSONDecodeError  # kept: asked for once
    assert getattr_("decoder") is json.decoder  # a submodule
    with pytest.raises(AttributeError, match="module 'json' has no attribute 'nothing'"):
        getattr_("nothing")
    assert {"JSONDecodeError", "loads", "decoder"} <= set(dir_())


# -- what importing costs ---------------------------------------------------------------

# Modules that a script which does not save, export or convolve must not load: the
# stdlib's heavier ones, the optional libraries, and minigrad's families beyond the
# blog net's (a module already loaded before minigrad -- by Python's start-up or NumPy,
# such as pathlib for an editable install, or inspect -- is not counted).
HEAVY = {
    "zipfile", "secrets", "inspect", "pathlib", "json", "shutil", "tempfile", "ast",
    "dataclasses", "torch", "onnx", "onnxruntime", "array_api_compat", "scipy",
    "minigrad.export", "minigrad.io", "minigrad.training", "minigrad.testing",
    "minigrad.distributed", "minigrad.layers.conv", "minigrad.layers.recurrent",
    "minigrad.layers.attention", "minigrad.layers.normalization",
    "minigrad.losses.classification", "minigrad.optim.adaptive", "minigrad.optim.lbfgs",
    "minigrad.optim.lr_scheduler",
}


def _new_modules(before: str, code: str) -> set[str]:
    """The modules that running ``code`` loads after ``before``, in a fresh interpreter
    started in the repository (so it imports this checkout's minigrad)."""
    script = (
        f"import sys\n{before}\nknown = set(sys.modules)\n{code}\n"
        "print(sorted(set(sys.modules) - known))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    return set(ast.literal_eval(done.stdout.splitlines()[-1]))


def test_import_minigrad_loads_no_family() -> None:
    new = _new_modules("", "import minigrad")
    assert new & (HEAVY | {"numpy", "typing_extensions", "minigrad.layers"}) == set()
    assert {m for m in new if m.startswith("minigrad")} == {
        "minigrad", "minigrad.core", "minigrad.core.exports"}


def test_the_blog_net_loads_only_what_it_uses() -> None:
    # examples/blog_net.py's names, one training step: numpy.random is the blog post's
    # own (its initial weights), and typing_extensions a dependency of minigrad's core
    # (on Python 3.10 it imports inspect itself), so both are loaded first.
    new = _new_modules(
        "import numpy, numpy.random, typing_extensions",
        f"sys.path.insert(0, {str(ROOT / 'examples')!r})\nimport blog_net\n"
        "blog_net.train(blog_net.build_model(), iterations=1)",
    )
    assert sorted(new & HEAVY) == []
    assert "minigrad.losses.regression" in new and "minigrad.optim.sgd" in new


def test_the_start_up_benchmark_runs() -> None:
    # benchmarks/bench.py --cases import times these start-ups (by hand, never here).
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--steps", "2",
         "--no-torch", "--cases", "import"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    rows = [line for line in done.stdout.splitlines() if line.startswith("| import")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| import numpy", "| import minigrad", "| import numpy, numpy.random"]
    assert "| the blog net's imports |" in done.stdout
