"""The README's Quickstart and CI's command must not drift apart."""

from __future__ import annotations

import re

from conftest import ROOT


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) == 2, commands
    run_cmd, test_cmd = commands
    assert "examples/blog_net.py" in run_cmd
    assert f"TEST_COMMAND='{test_cmd}'" in ci


def test_ci_installs_the_pytorch_reference_first_and_cleans_up():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    torch_at = ci.index('python -m pip install --quiet "torch==2.13.0"\n')
    assert torch_at < ci.index('python -m pip install --quiet ".[test,docs,torch]"')
    # the venv and temp files go, however it ends -- and what the tools leave in the tree
    assert "trap 'rm -rf \"$work\" ${created[@]+\"${created[@]}\"}' EXIT" in ci
    assert "for path in build minigrad.egg-info .pytest_cache" in ci
    assert "export CI=true" in ci  # skips fail there (conftest.py)
