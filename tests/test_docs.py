"""The docs cannot rot: every Python snippet runs, and the API reference lists every export.

pytest runs the ``>>>`` examples of README.md and docs/*.md as doctests. A fenced block
without ``>>>`` lines, or with code after a blank line that doctest would read as
prose, would be published yet never run -- these tests refuse both.
"""

from __future__ import annotations

import html as html_module
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import minigrad as mg

PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
PYTHON_TAGS = {"python", "py", "pycon", "python3"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^\s`]*)")


def fenced_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """``(line number of the opening fence, language tag, lines inside)`` per block."""
    blocks: list[tuple[int, str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        marker, tag = opening.groups()
        start = i
        i += 1
        while i < len(lines) and lines[i].strip() != marker:
            i += 1
        if i == len(lines):
            raise AssertionError(f"line {start + 1}: fence {marker} is never closed")
        blocks.append((start + 1, tag.lower(), lines[start + 1 : i]))
        i += 1
    return blocks


def snippet_problems(body: list[str]) -> list[str]:
    """Why doctest would not run all of this Python block ([] if it runs all of it)."""
    problems = []
    if not any(line.lstrip().startswith(">>>") for line in body):
        problems.append("has no >>> examples, so doctest never runs it")
    for index, line in enumerate(body):
        starts_chunk = index == 0 or not body[index - 1].strip()
        if starts_chunk and line.strip() and not line.lstrip().startswith(">>>"):
            problems.append(
                f"line {index + 1} of the block is not a >>> example, and after a blank "
                f"line doctest reads it as prose: {line.strip()!r}"
            )
    if body and body[-1].strip():
        problems.append("needs a blank line before the closing fence (doctest's end of output)")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_python_snippet_runs(page: Path) -> None:
    problems = []
    for line, tag, body in fenced_blocks(page.read_text(encoding="utf-8")):
        if not tag:
            problems.append(f"line {line}: untagged fence; say ```python (with >>> "
                            f"examples), ```bash, ```text ... so nothing runs by accident")
        elif tag in PYTHON_TAGS:
            problems += [f"line {line}: ```{tag} block {why}" for why in snippet_problems(body)]
            if any("tempfile" in text for text in body):  # its folders outlive the test
                problems.append(f"line {line}: ```{tag} block uses tempfile; each snippet "
                                "already runs in its own temporary folder: write plain names")
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("body", "runs"),
    [
        ([">>> 1 + 1", "2", ""], True),
        ([">>> x = 1", "", ">>> x", "1", ""], True),
        (["x = 1", ""], False),  # plain code: never executed
        ([">>> x = 1", "", "x + 1", ""], False),  # prose to doctest after the blank line
        ([">>> x = 1"], False),  # no blank line before the fence
    ],
)
def test_snippet_rules_catch_unexecuted_code(body: list[str], runs: bool) -> None:
    assert (snippet_problems(body) == []) is runs


def test_markdown_doctests_are_collected(pytestconfig: pytest.Config) -> None:
    # The checks above mean nothing unless pytest actually runs these pages.
    testpaths = pytestconfig.getini("testpaths")
    assert "docs" in testpaths and "README.md" in testpaths, testpaths
    assert "*.md" in pytestconfig.option.doctestglob


EXPORTED = {name for name in mg.__all__ if not name.startswith("__")}  # not __version__
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))
DIRECTIVE = re.compile(r"^::: (\S+)", re.MULTILINE)  # mkdocstrings: document this object


def test_every_export_is_on_exactly_one_api_page() -> None:
    """Each name of ``minigrad.__all__`` is a ``::: minigrad.Name`` on one family page, so
    a name added to ``__all__`` fails here until it is given its page."""
    pages: dict[str, list[str]] = {name: [] for name in EXPORTED}
    for page in API_PAGES:
        for identifier in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            # The public path: the modules behind the names move, the names stay.
            assert identifier.removeprefix("minigrad.") in EXPORTED, (
                f"{page.name}: ::: {identifier} is not minigrad.<a name in __all__>")
            pages[identifier.removeprefix("minigrad.")].append(page.name)
    assert {name: where for name, where in pages.items() if len(where) != 1} == {}
    overview = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert [page.name for page in API_PAGES if f"(api/{page.name})" not in overview] == []


def test_api_reference_lists_every_export(tmp_path: Path) -> None:
    """The built API pages have one entry for each name in ``minigrad.__all__``.

    Fails when a new export lacks a docstring (mkdocstrings leaves those out), a
    docstring example renders as a quote, or a parameter table regresses (the griffe
    extension's whole-package check is tests/test_griffe_extensions.py). Needs the docs
    extra (CI installs it).
    """
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert build.returncode == 0, build.stderr
    documented: dict[str, list[str]] = {}
    pages = {}
    for page in sorted((site / "api").glob("*/index.html")):
        pages[page.parent.name] = html = page.read_text(encoding="utf-8")
        for name in set(re.findall(r'id="minigrad\.([A-Za-z_]\w*)"', html)):
            documented.setdefault(name, []).append(page.parent.name)
        # A docstring's >>> lines rendered as Markdown quotes instead of code.
        assert "<blockquote" not in html, page
    assert not EXPORTED - set(documented), f"not in the API reference: {EXPORTED - set(documented)}"
    assert not set(documented) - EXPORTED, f"documented, not exported: {set(documented) - EXPORTED}"
    assert {name: where for name, where in documented.items() if len(where) != 1} == {}
    # Conv2D's stride defaults to 1 (griffe alone marked it "required"); ELU's range is
    # no type (it stood in the type column).
    assert parameter_row(pages["convolution"], "Conv2D", "stride") == [
        "stride", "int or (int, int)", "stride ≥ 1.", "1"]
    assert parameter_row(pages["activations"], "ELU", "alpha") == [
        "alpha", "float", "alpha ≥ 0.", "1"]


def parameter_row(html: str, name: str, parameter: str) -> list[str]:
    """The text of the cells of ``parameter``'s row in ``minigrad.name``'s table."""
    section = html.split(f'id="minigrad.{name}"', 1)[1].split("<h2 ", 1)[0]
    for row in re.findall(r"<tr class=\"doc-section-item\">(.*?)</tr>", section, re.S):
        cells = [" ".join(html_module.unescape(re.sub(r"<[^>]+>", "", cell)).split())
                 for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        if cells and cells[0] == parameter:
            return cells
    raise AssertionError(f"no row for {parameter} in minigrad.{name}'s table")
