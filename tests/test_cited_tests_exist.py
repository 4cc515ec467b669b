"""Docstrings and docs that cite a test file as their evidence cite one that exists (a
renamed or never-written test leaves a claim with nothing behind it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_cited_test_file_exists() -> None:
    cited = {
        (source.relative_to(ROOT).as_posix(), name)
        for folder, pattern in (("minigrad", "*.py"), ("docs", "*.md"), ("benchmarks", "*.md"))
        for source in (ROOT / folder).rglob(pattern)
        for name in re.findall(r"tests/test_\w+\.py", source.read_text(encoding="utf-8"))
    }
    assert cited  # the search itself finds citations
    missing = sorted((source, name) for source, name in cited if not (ROOT / name).is_file())
    assert missing == []
