"""Griffe extensions that fit minigrad's docstrings to the Markdown API reference.

Loaded by mkdocstrings from ``mkdocs.yml``; they need the ``docs`` extra (griffe), as
do their tests (``tests/test_griffe_extensions.py``).

* `ExportedSubmodulesOnly`: griffe counts every submodule without a leading underscore
  as public, whatever ``__all__`` says, so ``show_submodules`` would also render
  ``minigrad.optim.lr_scheduler.base``, ``minigrad.export.onnx.nd``... whose contents the
  reference already shows under their exported names. This makes a submodule public
  exactly when its package's ``__all__`` lists it, subpackages included, so a module's
  page (``::: minigrad.lr_scheduler``) shows its exports and nothing else.
* `DoctestsAsCode`: reST (and so NumPy style) reads a ``>>>`` paragraph anywhere in a
  docstring as a doctest block, but Markdown reads it as three nested quotes and
  griffe only recognises examples inside an ``Examples`` section. This fences each
  ``>>>`` paragraph found elsewhere as a ``pycon`` code block, so it renders as code.
* `ParameterTables`: minigrad's docstrings write a parameter's range in its type
  (``alpha : float ≥ 0``) and document parameters that share a type together
  (``kernel_size, stride, dilation : int or (int, int), >= 1``), as ``help()`` reads
  well. griffe puts the range in the table's type column, and gives every name of a
  group the signature default of the *first* (``stride`` "required", though it defaults
  to 1). This splits each group into one item per name, so each takes its own default,
  and moves the range (and a numpydoc ``, shape (N, D)``) into the description
  (```stride` ≥ 1.``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")  # the line under a NumPy section title


class ExportedSubmodulesOnly(griffe.Extension):
    """Set ``public`` on each submodule of a package from the package's ``__all__``, in
    the subpackages too (``minigrad.lr_scheduler.base`` is not in the reference)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        pending, seen = [pkg], {pkg.path}
        while pending:
            package = pending.pop()
            exports = {str(name) for name in package.exports or ()}
            for name, member in package.members.items():
                # Only the package's own submodules: an imported module is an alias,
                # and following aliases can walk in circles.
                if member.is_alias or not member.is_module or member.path in seen:
                    continue
                member.public = name in exports
                seen.add(member.path)
                pending.append(member)


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


# -- parameter tables ------------------------------------------------------------------

_PARAMETER_SECTIONS = {"Parameters", "Other Parameters"}
# ``name : spec``, ``a, b, c : spec`` or ``a, b, c`` (types from the signature) -- the
# line that opens a parameter's item.
_ITEM = re.compile(
    r"^(?P<indent>\s*)(?P<names>\*{0,2}\w+(?:,\s*\*{0,2}\w+)*)(?:\s+:\s+(?P<spec>.+?))?\s*$"
)
# griffe's own reading of a default: from the first ``, default X`` (or ``default: X``, ``=X``).
_DEFAULT = re.compile(r"^(?P<type>.*?),\s+default(?: |: |=)(?P<default>.+)$")
# A range: ``>= 1``, ``≥ 0``, ``> 0``, ``in [0, 1)``, ``each in [0, 1)``, with what
# joins it to the type (a comma, or a space). ``->`` (a callable's type) is no range:
# the operator must follow the space directly.
_RANGE = re.compile(
    r"(?P<sep>,\s*|\s+)"
    r"(?P<range>(?:each\s+)?(?:(?:>=|<=|≥|≤|>|<)\s*[-+\w.]+|in\s+[\[(][^\])]*[\])]))"
)
_LITERAL = re.compile(r"``([^`]+)``")  # the type column shows backticks verbatim
# numpydoc's ``x : ndarray, shape (N, D)``: a shape, for the description as a range is.
_SHAPE = re.compile(r",\s*(?P<shape>shapes?\s.+)$")


def _split_top_level(text: str) -> list[str]:
    """``text`` cut at the commas outside brackets and quotes, each part stripped."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def _is_alternative(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple):
        return all(_is_alternative(element) for element in node.elts)
    return isinstance(node, (ast.Name, ast.Attribute, ast.Constant))


def _alternatives(type_text: str) -> str:
    """``"none", "mean" or "sum"`` (or ``{"tanh", "relu"}``) as ``"none" or "mean" or
    "sum"``: griffe reads the comma as a tuple and shows ``('none', 'mean' or 'sum')``.
    Anything but names, literals and tuples of them is prose and left alone."""
    inner = type_text[1:-1] if type_text.startswith("{") and type_text.endswith("}") else type_text
    parts = _split_top_level(inner)
    if len(parts) == 1 and inner is type_text:
        return type_text
    joined = " or ".join(parts)
    try:
        tree = ast.parse(joined, mode="eval").body
    except SyntaxError:
        return type_text
    values = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.Or) else [tree]
    return joined if all(_is_alternative(value) for value in values) else type_text


def _is_bare_tuple(type_text: str) -> bool:
    """Whether griffe would read ``type_text`` as a tuple written without parentheses."""
    try:
        tree = ast.parse(type_text, mode="eval").body
    except SyntaxError:
        return False
    return isinstance(tree, ast.Tuple) and not type_text.startswith("(")


def _without_ranges(type_text: str) -> tuple[str, list[str]]:
    """The type with its ranges taken out, and the ranges (``>=`` written ``≥``)."""
    ranges = []
    while (match := _RANGE.search(type_text)) is not None:
        before, after = type_text[: match.start()], type_text[match.end() :]
        if not match.group("sep").startswith(",") and after.startswith(", "):
            after = " or " + after[2:]  # ``int >= 0, "same"``: the comma was between types
        type_text = before + after
        ranges.append(match.group("range").replace(">=", "≥").replace("<=", "≤"))
    return type_text.strip(), ranges


def split_parameter_items(text: str) -> str:
    """Rewrite the items of a docstring's ``Parameters`` sections for griffe's table.

    An item documenting several names becomes one item per name (same type and
    description; a default list such as ``default 1e-5, 1e-7`` shared out by position),
    so griffe finds each name's own default in the signature. A range in the type moves
    to the front of the description, and so does a shape (``x : ndarray, shape (N, D)``:
    griffe would read that comma as a tuple). Other items are left as written.
    """
    lines = text.split("\n")
    out: list[str] = []
    section = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() and index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1]):
            section = line.strip()
        match = _ITEM.match(line) if section in _PARAMETER_SECTIONS else None
        index += 1
        if match is None:
            out.append(line)
            continue
        indent = match.group("indent")
        body: list[str] = []  # the description: the more indented lines that follow
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > len(indent)
        ):
            body.append(lines[index])
            index += 1
        trailing: list[str] = []
        while body and not body[-1].strip():
            trailing.insert(0, body.pop())
        out += _rewrite_item(line, match, body) + trailing
    return "\n".join(out)


def _rewrite_item(line: str, match: re.Match[str], body: list[str]) -> list[str]:
    indent, spec = match.group("indent"), match.group("spec")
    names = [name.strip() for name in match.group("names").split(",")]
    if spec is None:  # names alone: griffe reads each one's type and default from the signature
        return [line, *body] if len(names) == 1 else [
            text for name in names for text in [f"{indent}{name}", *body]
        ]
    default_match = _DEFAULT.match(spec)
    type_text, default = (
        (default_match.group("type"), default_match.group("default"))
        if default_match else (spec, None)
    )
    optional = type_text.endswith(", optional")
    type_text = type_text.removesuffix(", optional")
    shape = _SHAPE.search(type_text)
    notes = [] if shape is None else [shape.group("shape")[0].upper() + shape.group("shape")[1:]]
    plain = type_text if shape is None else type_text[: shape.start()]
    plain, ranges = _without_ranges(_LITERAL.sub(r"\1", plain))
    plain = _alternatives(plain)
    if _is_bare_tuple(plain):  # prose griffe would show as a tuple: leave it as written
        plain, notes = type_text, []
    if len(names) == 1 and not ranges and not notes and plain == type_text:
        return [line, *body]
    defaults: list[str | None] = [default] * len(names)
    if default is not None and len(names) > 1:
        shared = _split_top_level(default)
        if len(shared) == len(names):
            defaults = list(shared)
    body_indent = next(
        (b[: len(b) - len(b.lstrip())] for b in body if b.strip()), indent + "    "
    )
    out = []
    for name, own_default in zip(names, defaults):
        header = f"{indent}{name} : {plain}"
        header += ", optional" if optional else ""
        header += f", default {own_default}" if own_default is not None else ""
        out.append(header)
        if ranges:
            out.append(f"{body_indent}`{name.lstrip('*')}` {' and '.join(ranges)}.")
        out += [f"{body_indent}{note}." for note in notes] + body
    return out


class ParameterTables(griffe.Extension):
    """Apply `split_parameter_items` to every docstring of a package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        pending: list[griffe.Object] = [pkg]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None:
                obj.docstring.value = split_parameter_items(obj.docstring.value)
            pending += [m for m in obj.members.values() if isinstance(m, griffe.Object)]
