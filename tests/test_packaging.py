"""What gets published: the sdist carries everything its own tests need, the wheel is the
package alone (every subpackage, ``py.typed``), and the metadata says what CI tests.

The sdist and the wheel are built once, from a copy of the source tree (so nothing is
written into the checkout), with ``python -m build --no-isolation`` -- the wheel from the
unpacked sdist, as a release build does, so a file the sdist lacks fails the wheel build.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

# What the sdist's tests read besides the package (MANIFEST.in says why each is there).
SDIST_FOLDERS = ["minigrad", "tests", "examples", "benchmarks", "docs", "tools"]
SDIST_FILES = ["conftest.py", "pyproject.toml", "mkdocs.yml", "README.md", "LICENSE", ".ci/run"]
# Not source: what tools and builds leave in a working tree.
LEFTOVERS = shutil.ignore_patterns(
    ".git", "build", "dist", "site", ".venv", "venv", "*.egg-info", "__pycache__", "*.py[cod]",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis",
)


def _source_files(folder: str) -> set[str]:
    files = (ROOT / folder).rglob("*")
    return {
        path.relative_to(ROOT).as_posix() for path in files
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel built from this source tree."""
    pytest.importorskip("build")  # the test extra has it
    source = tmp_path_factory.mktemp("source") / "minigrad"
    shutil.copytree(ROOT, source, ignore=LEFTOVERS, symlinks=True)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def metadata(dists: tuple[Path, Path]) -> EmailMessage:
    with zipfile.ZipFile(dists[1]) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        text = wheel.read(name).decode("utf-8")
    message = email.parser.Parser(policy=email.policy.default).parsestr(text)
    assert isinstance(message, EmailMessage)
    return message


def test_the_sdist_carries_what_its_tests_need(dists: tuple[Path, Path]) -> None:
    with tarfile.open(dists[0]) as sdist:
        names = sdist.getnames()
    top = names[0].split("/")[0]  # minigrad-0.1.0
    members = {name.removeprefix(f"{top}/") for name in names}
    expected = set(SDIST_FILES).union(*map(_source_files, SDIST_FOLDERS))
    assert "tests/typed_user/user_program.py" in expected  # the walk reaches subfolders
    assert not expected - members, f"missing from the sdist: {sorted(expected - members)}"
    junk = [m for m in members if "__pycache__" in m or m.endswith((".pyc", ".pyo"))]
    assert not junk, junk


def test_the_wheel_is_the_whole_package_and_nothing_else(dists: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(dists[1]) as wheel:
        members = set(wheel.namelist())
    assert "minigrad/py.typed" in members  # PEP 561: type checkers read the annotations
    modules = {name for name in _source_files("minigrad") if name.endswith(".py")}
    packages = {name for name in modules if name.endswith("/__init__.py")}
    assert {"minigrad/export/onnx/__init__.py", "minigrad/optim/lr_scheduler/__init__.py",
            "minigrad/layers/conv/__init__.py"} <= packages  # subpackages too
    assert not modules - members, f"missing from the wheel: {sorted(modules - members)}"
    tops = {name.split("/")[0] for name in members}
    assert tops == {"minigrad", f"minigrad-{Version(_version()).public}.dist-info"}, tops


def _version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert match is not None
    return match.group(1)


def _ci_setting(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"),
                      re.MULTILINE)
    assert match is not None, f"{name}= not in .ci/run"
    return match.group(1)


def test_the_declared_support_range_is_what_ci_tests(metadata: EmailMessage) -> None:
    """requires-python, the classifiers and the NumPy floor agree with each other and
    with the versions .ci/run installs: its floor run is the oldest Python with exactly
    the oldest NumPy allowed, its bare run the newest Python."""
    pythons = sorted(
        Version(c.rsplit(" ", 1)[1]) for c in metadata.get_all("Classifier", [])
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert pythons, "no Python version classifiers"
    assert [p.minor for p in pythons] == list(range(pythons[0].minor, pythons[-1].minor + 1))
    requires = SpecifierSet(metadata["Requires-Python"])
    assert Version(f"3.{pythons[0].minor - 1}") not in requires
    assert all(p in requires for p in pythons)
    assert Version(_ci_setting("OLDEST_PYTHON")) == pythons[0]
    assert Version(_ci_setting("NEWEST_PYTHON")) == pythons[-1]

    (numpy,) = [Requirement(r) for r in metadata.get_all("Requires-Dist", [])
                if Requirement(r).name == "numpy"]
    (floor,) = [s for s in numpy.specifier if s.operator == ">="]
    oldest = Version(_ci_setting("OLDEST_NUMPY"))
    assert oldest == Version(floor.version), (oldest, numpy)
    assert oldest in numpy.specifier


def test_the_metadata_a_package_index_shows(metadata: EmailMessage) -> None:
    classifiers = set(metadata.get_all("Classifier", []))
    assert {"Typing :: Typed", "Operating System :: OS Independent"} <= classifiers
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in classifiers)
    # PEP 639: the license is the expression; a License classifier would contradict it.
    assert metadata["License-Expression"] == "MIT"
    assert not [c for c in classifiers if c.startswith("License ::")]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL", []))
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues"}, urls
    assert all(u.startswith("https://") for u in urls.values()), urls
    assert metadata["Keywords"]
