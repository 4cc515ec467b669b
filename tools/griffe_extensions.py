"""Griffe extensions that fit minigrad's docstrings to the Markdown API reference.

Loaded by mkdocstrings from ``mkdocs.yml``; they need the ``docs`` extra, not the tests.

* `ExportedSubmodulesOnly`: griffe counts every submodule without a leading underscore
  as public, whatever ``__all__`` says, so ``show_submodules`` would also render
  ``minigrad.core``, ``minigrad.layers.dense``... whose classes the reference already shows
  under their exported names. This makes a submodule public exactly when the package's
  ``__all__`` lists it, so the reference is ``__all__`` and nothing else -- and a name
  someone adds there appears without touching ``docs/api.md``.
* `DoctestsAsCode`: reST (and so NumPy style) reads a ``>>>`` paragraph anywhere in a
  docstring as a doctest block, but Markdown reads it as three nested quotes and
  griffe only recognises examples inside an ``Examples`` section. This fences each
  ``>>>`` paragraph found elsewhere as a ``pycon`` code block, so it renders as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")  # the line under a NumPy section title


class ExportedSubmodulesOnly(griffe.Extension):
    """Set ``public`` on each submodule of a package from the package's ``__all__``."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        exports = {str(name) for name in pkg.exports or ()}
        for name, module in pkg.modules.items():
            module.public = name in exports


def fence_doctests(text: str) -> str:
    """Wrap each ``>>>`` paragraph outside an ``Examples`` section in a pycon fence."""
    lines = text.split("\n")
    out: list[str] = []
    section = indent = ""
    in_fence = in_doctest = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if in_doctest and not stripped:  # a blank line ends a doctest
            out.append(indent + "```")
            in_doctest = False
        elif not in_doctest:
            if stripped.startswith("```"):
                in_fence = not in_fence
            elif stripped and index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1]):
                section = stripped
            elif stripped.startswith(">>>") and not in_fence and section != "Examples":
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + "```pycon")
                in_doctest = True
        out.append(line)
    if in_doctest:
        out.append(indent + "```")
    return "\n".join(out)


class DoctestsAsCode(griffe.Extension):
    """Apply `fence_doctests` to every docstring of a package, the package's included."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        pending: list[griffe.Object] = [pkg]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None:
                obj.docstring.value = fence_doctests(obj.docstring.value)
            # Aliases (imported names) are skipped: their target is visited where it lives.
            pending += [m for m in obj.members.values() if isinstance(m, griffe.Object)]
