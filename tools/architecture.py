"""The package diagram of docs/architecture.svg, drawn from the code's own imports.

``python tools/architecture.py`` rewrites ``docs/architecture.svg``; the test suite
(tests/test_architecture.py) checks that the committed picture is what the code draws, so
it cannot go stale, and that every import points down the stack.

Each box is a family (a package of ``minigrad/``, or a top-level module); an arrow
``A → B`` means some module of A imports one of B (drawn only where no path of other
arrows implies it; the entry points' re-exports are not drawn). Boxes stand in rows by `LEVELS`, the
stack from the bottom up: a family may import only families on lower rows.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minigrad"
SVG = ROOT / "docs" / "architecture.svg"

# The stack, bottom row first: what each row may use is everything below it.
LEVELS: list[list[str]] = [
    ["backend"],
    ["core"],
    ["init"],
    ["layers", "losses", "optim"],
    ["containers", "io"],
    ["training", "testing"],
    ["export", "distributed"],
    ["base", "lr_scheduler"],
    ["__init__"],
]
ENTRY_POINTS = {"__init__": "minigrad (mg.*)", "base": "minigrad.base", "lr_scheduler":
                "minigrad.lr_scheduler"}
TOPICS = {
    "backend": "array libraries, in-place kernels",
    "core": "Parameter, Module, Layer, checks",
    "init": "weight initializers",
    "layers": "dense, activations, conv, norm, ...",
    "losses": "regression, classification",
    "optim": "SGD, Adam..., clipping, schedules",
    "containers": "Sequential, Graph",
    "io": "save, load, checkpoints",
    "training": "fit, predict, callbacks, metrics",
    "testing": "check_layer, gradcheck",
    "export": "ONNX, PyTorch",
    "distributed": "data-parallel on torch.distributed",
}


def family(path: Path) -> str:
    """The family of a module file: its package under minigrad/, or its own name."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def imported_families(path: Path) -> Iterator[str]:
    """The minigrad families a module imports (at any depth in the file)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = node.module.split(".")
            if names[0] != "minigrad":
                continue
            if len(names) > 1:
                yield names[1]
            else:  # from minigrad import backend, init, ...
                yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names = alias.name.split(".")
                if names[0] == "minigrad" and len(names) > 1:
                    yield names[1]


def edges() -> set[tuple[str, str]]:
    """``(importer, imported)`` family pairs, self-imports left out."""
    known = {name for row in LEVELS for name in row}
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        source = family(path)
        for target in imported_families(path):
            if target in known and target != source:
                found.add((source, target))
    return found


def reduced(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The arrows worth drawing: an import implied by a path of others is left out
    (the transitive reduction), and so are the entry points' re-exports."""
    def reaches(start: str, goal: str, skip: tuple[str, str]) -> bool:
        todo, seen = [start], set()
        while todo:
            node = todo.pop()
            for a, b in pairs:
                if a == node and (a, b) != skip and b not in seen:
                    if b == goal:
                        return True
                    seen.add(b)
                    todo.append(b)
        return False

    return {(a, b) for a, b in pairs
            if a not in ENTRY_POINTS and not reaches(a, b, skip=(a, b))}


def level(name: str) -> int:
    return next(i for i, row in enumerate(LEVELS) if name in row)


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 200, 46, 90, 40, 20


def positions() -> dict[str, tuple[float, float]]:
    """Top-left corners: rows from the top (entry points) to the bottom (backend)."""
    widest = max(len(row) for row in LEVELS)
    width = widest * BOX_W + (widest - 1) * GAP_X
    places = {}
    for i, row in enumerate(reversed(LEVELS)):
        row_width = len(row) * BOX_W + (len(row) - 1) * GAP_X
        x0 = MARGIN + (width - row_width) / 2
        for j, name in enumerate(row):
            places[name] = (x0 + j * (BOX_W + GAP_X), MARGIN + i * (BOX_H + GAP_Y))
    return places


def svg() -> str:
    """The diagram as an SVG document (deterministic: same code, same bytes)."""
    places = positions()
    widest = max(len(row) for row in LEVELS)
    width = 2 * MARGIN + widest * BOX_W + (widest - 1) * GAP_X
    height = 2 * MARGIN + len(LEVELS) * BOX_H + (len(LEVELS) - 1) * GAP_Y
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
        "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#888\"/></marker></defs>",
    ]
    for name, (x, y) in places.items():
        title = ENTRY_POINTS.get(name, f"minigrad.{name}")
        topic = TOPICS.get(name, "entry point: re-exports")
        fill = "#eef3fb" if name not in ENTRY_POINTS else "#f5f5f5"
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                   f'fill="{fill}" stroke="#345"/>')
        out.append(f'<text x="{x + BOX_W / 2:.0f}" y="{y + 19:.0f}" text-anchor="middle" '
                   f'font-weight="bold">{title}</text>')
        out.append(f'<text x="{x + BOX_W / 2:.0f}" y="{y + 36:.0f}" text-anchor="middle" '
                   f'fill="#444" font-size="11">{topic}</text>')
    for source, target in sorted(reduced(edges())):
        (sx, sy), (tx, ty) = places[source], places[target]
        x1, y1 = sx + BOX_W / 2, sy + BOX_H
        x2, y2 = tx + BOX_W / 2, ty
        color = "#c00" if ty < sy else "#888"  # an upward import in red (tests refuse it)
        out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                   f'stroke="{color}" stroke-width="1.2" stroke-opacity="0.8" '
                   f'marker-end="url(#arrow)"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    SVG.write_text(svg(), encoding="utf-8")
    print(f"wrote {SVG.relative_to(ROOT)}", file=sys.stderr)
