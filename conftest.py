"""Configuration for the whole suite: the tests, and the doctests in ``minigrad/``,
``docs/*.md`` and ``README.md``.

* Every doctest runs in its own empty temporary folder (pytest's ``tmp_path``, removed
  after a pass), so a snippet writes files as a user would -- ``mg.save(net, "net.npz")``
  -- and the suite leaves nothing behind; tests use ``tmp_path`` themselves.
* PyTorch's first optimizer step makes a ``torchinductor_<user>`` cache folder in the
  temporary directory; unless ``TORCHINDUCTOR_CACHE_DIR`` is set, it goes to a folder
  of this session, removed at the end.
* Under CI (``CI=true``) a skipped test fails: a test skipped for a missing optional
  dependency (PyTorch, the references) would otherwise pass unnoticed. The only skips
  allowed are documented platform skips, marked ``@pytest.mark.platform_skip`` next to
  the ``skipif`` that says why.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Generator

import pytest
from _pytest.doctest import DoctestItem

collect_ignore = [
    f"minigrad/export/{module}.py"
    for module, needs in [("onnx", ("onnx", "onnxruntime")), ("torch", ("torch",))]
    if any(importlib.util.find_spec(name) is None for name in needs)
]

pytest_plugins = ("pytester",)  # tests/test_conftest.py runs pytest on the hooks below


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "platform_skip: a documented platform skip, the only skip CI allows"
    )
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="minigrad-tests-")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(folder, "torchinductor")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def _skips_fail() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture(autouse=True)
def _doctests_in_a_temporary_folder(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, DoctestItem):
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        monkeypatch.chdir(request.getfixturevalue("tmp_path"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        _skips_fail()
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("platform_skip") is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true, which allows no skips but documented platform ones "
            f"(@pytest.mark.platform_skip): {reason}"
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if _skips_fail() and report.skipped:  # a whole module skipped (importorskip at the top)
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true, which allows no skips: {reason}"
    return report
