"""The house's plan, checked: the folder tree is the architecture diagram, imports point
down the stack, no import circle, and docs/architecture.svg is what the code draws."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import architecture

PACKAGE = ROOT / "minigrad"


def test_every_import_points_down_the_stack() -> None:
    upward = [(a, b) for a, b in architecture.edges()
              if architecture.level(a) <= architecture.level(b)]
    assert upward == [], f"families importing their own row or one above: {upward}"


def test_every_family_has_its_place_in_the_stack() -> None:
    families = {architecture.family(path) for path in PACKAGE.rglob("*.py")}
    placed = {name for row in architecture.LEVELS for name in row}
    assert families == placed


def test_few_modules_at_the_top_of_the_package() -> None:
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "base.py", "init.py", "lr_scheduler.py"]


def test_no_module_is_longer_than_about_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The minigrad modules a module imports when it is imported: its top-level import
    statements (not those under ``if TYPE_CHECKING:`` or inside functions). ``from P
    import n`` imports the module ``P.n`` if there is one, else ``P`` (for its name ``n``)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & modules


def test_no_import_circle_between_modules() -> None:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: _top_level_imports(path, set(modules)) - {name}
             for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [name, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_diagram_is_what_the_code_draws() -> None:
    committed = (ROOT / "docs" / "architecture.svg").read_text(encoding="utf-8")
    assert committed == architecture.svg(), "run: python tools/architecture.py"


def test_a_sibling_imported_through_its_package_is_a_circle(tmp_path: Path) -> None:
    # What the circle check must catch: optim/adaptive.py importing `from minigrad.optim
    # import Optimizer` while optim/__init__.py imports adaptive.
    module = tmp_path / "adaptive.py"
    module.write_text("from minigrad.optim import Optimizer\n", encoding="utf-8")
    assert _top_level_imports(module, {"minigrad.optim", "minigrad.optim.adaptive"}) == {
        "minigrad.optim"}
