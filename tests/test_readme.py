"""The README's Quickstart and CI's command must not drift apart."""

from __future__ import annotations

import re

from conftest import ROOT


def _ci() -> str:
    return (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _function(ci: str, name: str) -> str:
    """The body of the shell function ``name`` in .ci/run."""
    match = re.search(rf"^{name}\(\) {{\n(.*?)^}}$", ci, re.MULTILINE | re.DOTALL)
    assert match is not None, f"no {name}() in .ci/run"
    return match.group(1)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = _ci()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) == 2, commands
    run_cmd, test_cmd = commands
    assert "examples/blog_net.py" in run_cmd
    assert f"TEST_COMMAND='{test_cmd}'" in ci
    # the reference run and, verbatim in a venv without torch, the bare run
    assert '\nrun_tests reference "$TEST_COMMAND"' in ci
    assert 'MINIGRAD_ALLOW_SKIPS=torch run_tests bare "$TEST_COMMAND"\n' in _function(ci, "bare")


def test_ci_installs_the_pytorch_reference_first_and_cleans_up():
    ci = _ci()
    torch_at = ci.index('python -m pip install --quiet "torch==2.13.0"\n')
    assert torch_at < ci.index('python -m pip install --quiet ".[test,docs,torch]"')
    # the venv and temp files go, however it ends -- and what the tools leave in the tree
    assert "trap 'stop_runs; rm -rf \"$work\" ${created[@]+\"${created[@]}\"}' EXIT" in ci
    assert "for path in build minigrad.egg-info .pytest_cache" in ci
    assert "export CI=true" in ci  # skips fail there (conftest.py)


def test_only_the_runs_without_torch_allow_skips_and_only_for_missing_packages():
    ci = _ci()
    # a developer's own setting must not reach the reference run, which allows no skip
    assert "\nunset MINIGRAD_ALLOW_SKIPS\n" in ci
    assert ci.count("MINIGRAD_ALLOW_SKIPS=") == 2
    assert "torch" not in _function(ci, "bare").replace("MINIGRAD_ALLOW_SKIPS=torch ", "")
    assert '"torch==' not in _function(ci, "floor")
    assert 'pip install --quiet "numpy==$OLDEST_NUMPY" ".[test]"' in _function(ci, "floor")
    assert "background=(bare floor)" in ci
