"""The suite's own rules (the root conftest.py): no skips under CI but documented
platform ones; doctests write into a temporary folder."""

from __future__ import annotations

import pytest
from conftest import ROOT

SKIPPING = """
import pytest

def test_needs_a_missing_reference():
    pytest.importorskip("no_such_module_minigrad")

@pytest.mark.platform_skip
@pytest.mark.skipif(True, reason="platform: documented as not available here")
def test_platform_only():
    pass

def test_plain():
    pass
"""


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # fast inner runs


@pytest.fixture
def suite(pytester):
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_skipping=SKIPPING)
    pytester.makepyfile(test_module_skip='import pytest\npytest.importorskip("no_such_mod")\n')
    return pytester


def test_under_ci_a_skip_fails_unless_it_is_a_marked_platform_skip(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_inprocess("-p", "no:cacheprovider",
                                       "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true*could not import*"])


def test_without_ci_skips_stay_skips(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3)


def test_doctests_run_in_an_empty_temporary_folder(pytester):
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makefile(".md", page='```python\n>>> import os\n>>> os.listdir(".")\n[]\n'
                                  '>>> open("model.npz", "w").close()\n\n```\n')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--doctest-glob=*.md")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "model.npz").exists()
