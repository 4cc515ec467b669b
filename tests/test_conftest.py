"""The suite's own rules (the root conftest.py): no skips under CI but documented
platform ones -- and, in a run that names them in MINIGRAD_ALLOW_SKIPS, those for a
missing optional dependency; doctests write into a temporary folder; a module that needs
a missing optional dependency is not collected."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

SKIPPING = """
import subprocess
import sys

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


# A package laid out like minigrad, whose modules import an optional dependency in each
# way that does or does not run on import.
OPTIONAL = "no_such_optional_dependency_minigrad"
PACKAGE = {
    "minigrad/__init__.py": '"""\n>>> 1 + 1\n2\n"""\n',
    "minigrad/core.py": '"""\n>>> 2\n2\n"""\nimport json\n\nimport pytest\n',
    # imports the missing dependency itself (minigrad/export/torch_layers.py did)
    "minigrad/extra.py": f'"""\n>>> 3\n3\n"""\nimport {OPTIONAL}.nn as nn\n',
    # imports it only through another minigrad module, absolutely or relatively
    "minigrad/extra_layers.py": '"""\n>>> 4\n4\n"""\nfrom minigrad.extra import nn\n',
    "minigrad/sub/__init__.py": '"""\n>>> 5\n5\n"""\n',
    "minigrad/sub/deep.py": '"""\n>>> 6\n6\n"""\nfrom .. import extra\n',
    # imports it only where importing the module does not run it: these are collected
    "minigrad/typed.py": (
        '"""\n>>> 7\n7\n"""\nfrom typing import TYPE_CHECKING\n\n'
        f"if TYPE_CHECKING:\n    import {OPTIONAL}\n"
    ),
    "minigrad/guarded.py": (
        f'"""\n>>> 8\n8\n"""\ntry:\n    import {OPTIONAL}\nexcept ImportError:\n'
        f"    {OPTIONAL} = None\n"
    ),
    "minigrad/lazy.py": f'"""\n>>> 9\n9\n"""\n\ndef f():\n    import {OPTIONAL}\n',
}


def test_modules_needing_a_missing_dependency_are_not_collected(pytester, monkeypatch):
    """Found from the imports, not from a list: a module that imports a missing package
    on import -- itself or through another minigrad module -- is left out of doctest
    collection (before, a module not on the list broke ``pytest`` without its extra);
    one that imports it only lazily, under TYPE_CHECKING or guarded is still collected."""
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    for path, source in PACKAGE.items():
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text(source, encoding="utf-8")
    # A process of its own: this one has imported the real minigrad already.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--doctest-modules",
                                           "-v", "minigrad", timeout=120)
    result.assert_outcomes(passed=6)
    collected = {line.split("::")[0] for line in result.outlines if "PASSED" in line}
    assert collected == {f"minigrad/{name}" for name in (
        "__init__.py", "core.py", "sub/__init__.py", "typed.py", "guarded.py", "lazy.py")}


HIDE_AND_COLLECT = """
import sys
# None in sys.modules: importlib.util.find_spec says missing, `import torch` fails.
for name in ("torch", "onnx", "onnxruntime"):
    sys.modules[name] = None
import subprocess
import sys

import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "minigrad"]))
"""


def test_minigrad_collects_without_its_optional_dependencies(monkeypatch):
    """The real package: with torch and onnx missing, collecting minigrad's doctests
    neither fails nor skips (the bare ``pip install ".[test]" && pytest`` failed on
    minigrad/export/torch_layers.py), and the core modules' doctests are still there."""
    monkeypatch.setenv("CI", "true")
    result = subprocess.run([sys.executable, "-c", HIDE_AND_COLLECT], cwd=ROOT, timeout=300,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "minigrad/__init__.py::minigrad\n" in result.stdout  # not an empty collection
    assert "minigrad/layers/conv/conv.py::" in result.stdout
    for module in ("export/torch/__init__.py", "export/torch/convert.py",
                   "export/torch/layers.py", "export/onnx/__init__.py",
                   "export/onnx/convert.py", "export/onnx/nd.py",
                   "export/onnx/activations.py", "export/onnx/sequence.py"):
        assert f"minigrad/{module}::" not in result.stdout


ALLOWING = """
import subprocess
import sys

import pytest

def test_needs_the_missing_one():
    pytest.importorskip("no_such_module_minigrad.sub")

def test_needs_another_missing_one():
    pytest.importorskip("another_missing_module_minigrad")

def test_needs_an_installed_one_that_skips():
    pytest.importorskip("json", minversion="999")

def test_plain_skip():
    pytest.skip("not a missing package")

def test_plain():
    pass
"""


@pytest.mark.parametrize("allowed", ["no_such_module_minigrad", " json , no_such_module_minigrad"])
def test_under_ci_a_run_may_allow_skips_for_named_missing_dependencies(pytester, monkeypatch,
                                                                       allowed):
    """MINIGRAD_ALLOW_SKIPS (CI's runs without torch): importorskip of a named package that
    is missing passes; of a package not named or of an installed one (json, too old here),
    or another skip still fails; so does a module skipped for a package not named."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("MINIGRAD_ALLOW_SKIPS", allowed)
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_allowing=ALLOWING)
    pytester.makepyfile(test_module_allowed='import pytest\n'
                                            'pytest.importorskip("no_such_module_minigrad")\n')
    pytester.makepyfile(test_module_not_allowed='import pytest\n'
                                                'pytest.importorskip("another_missing_module")\n')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs",
                                          "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, skipped=2, failed=3, errors=1)
    result.stdout.fnmatch_lines([
        "*SKIPPED*test_module_allowed.py*could not import 'no_such_module_minigrad'*",
        "*SKIPPED*test_allowing.py*could not import 'no_such_module_minigrad.sub'*",
    ])


def test_without_the_variable_ci_allows_no_missing_dependency(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("MINIGRAD_ALLOW_SKIPS", raising=False)
    result = suite.runpytest_inprocess("-p", "no:cacheprovider", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=1)
