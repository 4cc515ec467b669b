"""The typed user program runs, and CI type-checks it with ``mypy --strict``."""

from __future__ import annotations

import runpy

from conftest import ROOT

PROGRAM = ROOT / "tests" / "typed_user" / "user_program.py"


def test_the_typed_user_program_runs(capsys):
    runpy.run_path(str(PROGRAM), run_name="__main__")
    assert capsys.readouterr().err == "typed user program: ok\n"


def test_ci_type_checks_the_user_program_beside_minigrad():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmypy --strict minigrad tests/typed_user\n" in ci
