"""Configuration for the whole suite: the tests, and the doctests in ``minigrad/``,
``docs/*.md`` and ``README.md``.

* A module of ``minigrad/`` that imports an optional dependency (torch, onnx, ...) on
  import is left out of doctest collection when that dependency is missing -- found by
  reading every module's imports (`_modules_that_cannot_import`), so a new optional
  module cannot break ``pytest`` in an environment without its extra.
* Every doctest runs in its own empty temporary folder (pytest's ``tmp_path``, removed
  after a pass), so a snippet writes files as a user would -- ``mg.save(net, "net.npz")``
  -- and the suite leaves nothing behind; tests use ``tmp_path`` themselves.
* PyTorch's first optimizer step makes a ``torchinductor_<user>`` cache folder in the
  temporary directory; unless ``TORCHINDUCTOR_CACHE_DIR`` is set, it goes to a folder
  of this session, removed at the end.
* Under CI (``CI=true``) a skipped test fails: a test skipped for a missing optional
  dependency (PyTorch, the references) would otherwise pass unnoticed. The skips
  allowed are documented platform skips, marked ``@pytest.mark.platform_skip`` next to
  the ``skipif`` that says why, and -- only in a run that names the dependency in
  ``MINIGRAD_ALLOW_SKIPS`` (comma-separated, e.g. ``torch``: CI's runs without PyTorch)
  -- ``pytest.importorskip`` of a dependency that really is not installed.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

ROOT = Path(__file__).resolve().parent
PACKAGE = "minigrad"


def _installed(name: str) -> bool:
    """Whether the top-level module ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install, or a module with no spec
        return False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_errors(node: ast.Try) -> bool:
    """A ``try`` that survives a failed import in its body: that import is optional."""
    for handler in node.handlers:
        if handler.type is None:
            return True
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names = {c.id if isinstance(c, ast.Name) else getattr(c, "attr", "") for c in caught}
        if names & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}:
            return True
    return False


def _imports_on_import(statements: Iterable[ast.stmt], module: str, package: bool) -> Iterator[str]:
    """The absolute names that importing ``module`` imports: its module-level ``import``
    statements, in blocks too (``with``, ``if``, class bodies), but not those in
    functions (run when called), under ``if TYPE_CHECKING:`` (never run) or in a ``try``
    whose ``except`` catches the ImportError (the module imports without them). For
    ``from a import b``, both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    for node in statements:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package the module is in (or is)
                parts = module.split(".")[: len(module.split(".")) + package - node.level]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports_on_import(node.orelse, module, package)
        elif isinstance(node, ast.Try) and _catches_import_errors(node):
            for block in (*(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from _imports_on_import(block, module, package)
        else:  # any other statement: the statements nested in it run on import too
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports_on_import([child], module, package)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from _imports_on_import(child.body, module, package)


def _modules_that_cannot_import(root: Path) -> dict[Path, set[str]]:
    """Each module of ``root/minigrad`` that would fail to import here, with the missing
    top-level packages it imports on import -- itself or through the minigrad modules
    (and their packages' ``__init__``) that it imports. Read from the source with `ast`,
    nothing imported, so there is no list of optional modules to keep up to date."""
    modules: dict[str, tuple[Path, set[str]]] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if package else parts)
        tree = ast.parse(path.read_bytes(), filename=str(path))
        modules[name] = (path, set(_imports_on_import(tree.body, name, package)))

    def requirements(name: str) -> tuple[set[str], set[str]]:
        """The minigrad modules and the other top-level packages that ``name`` imports."""
        inner = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        outer: set[str] = set()
        for imported in modules[name][1]:
            parts = imported.split(".")
            if parts[0] != PACKAGE:
                outer.add(parts[0])
            prefixes = (".".join(parts[: i + 1]) for i in range(len(parts)))
            inner.update(prefix for prefix in prefixes if prefix in modules)
        return inner, outer

    installed = functools.cache(_installed)
    result: dict[Path, set[str]] = {}
    for name, (path, _) in modules.items():
        seen, todo, missing = {name}, [name], set[str]()
        while todo:  # every minigrad module that importing `name` runs (import cycles too)
            inner, outer = requirements(todo.pop())
            missing |= {package for package in outer if not installed(package)}
            todo += inner - seen
            seen |= inner
        if missing:
            result[path] = missing
    return result


collect_ignore = [str(path.relative_to(ROOT)) for path in _modules_that_cannot_import(ROOT)]

pytest_plugins = ("pytester",)  # tests/test_conftest.py runs pytest on the hooks below


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform_skip: a documented platform skip, the only skip CI allows"
    )
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="minigrad-tests-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(folder, "torchinductor")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def _skips_fail() -> bool:
    return os.environ.get("CI") == "true"


# What pytest.importorskip says when the import fails: "could not import 'torch': ...".
_IMPORTORSKIP = re.compile(r"could not import '([\w.]+)'")


def _skip_for_an_allowed_missing_dependency(reason: str) -> bool:
    """Whether ``reason`` is ``pytest.importorskip``'s of a package that this run names
    in ``MINIGRAD_ALLOW_SKIPS`` and that is really not installed (a skip because an
    installed torch fails to import is a fault, not a missing extra)."""
    allowed = {name.strip() for name in os.environ.get("MINIGRAD_ALLOW_SKIPS", "").split(",")}
    match = _IMPORTORSKIP.search(reason)
    if match is None:
        return False
    package = match.group(1).split(".")[0]
    return package in allowed and not _installed(package)


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    return str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)


_ALLOWED = (
    "which allows no skips but documented platform ones (@pytest.mark.platform_skip) "
    "and, for the packages named in MINIGRAD_ALLOW_SKIPS, importorskip of a missing one"
)


@pytest.fixture(autouse=True)
def _doctests_in_a_temporary_folder(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, DoctestItem):
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        monkeypatch.chdir(request.getfixturevalue("tmp_path"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        _skips_fail()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("platform_skip") is None
        and not _skip_for_an_allowed_missing_dependency(_reason(report))
    ):
        reason = _reason(report)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, {_ALLOWED}: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if (  # a whole module skipped (importorskip at the top)
        _skips_fail()
        and report.skipped
        and not _skip_for_an_allowed_missing_dependency(_reason(report))
    ):
        reason = _reason(report)
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true, {_ALLOWED}: {reason}"
    return report
