"""What `fit` shows while it trains: tqdm.auto's bar on a terminal or in Jupyter, one
line per epoch everywhere else (logs, CI, pipes) and without tqdm.

Jupyter is imitated: its kernel is an ``IPython`` module in ``sys.modules`` and a
stderr that is no terminal, and in it ``tqdm.auto.tqdm`` is a subclass of
``tqdm.notebook.tqdm`` (the widget) -- or tqdm's terminal bar when ipywidgets is missing.
"""

from __future__ import annotations

import io
import sys
import types
from typing import Any, ClassVar

import numpy as np
import pytest

import minigrad as mg
from minigrad.training.history import BarProgress, LineProgress, make_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class RecordingBar:
    """Stands for a tqdm class: records what `fit` asks of each bar."""

    made: ClassVar[list[RecordingBar]] = []

    def __init__(self, total: int, desc: str, **kwargs: Any) -> None:
        self.total, self.desc, self.n, self.closed, self.postfix = total, desc, 0, False, ""
        RecordingBar.made.append(self)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self) -> None:
        self.n += 1

    def close(self) -> None:
        self.closed = True


def fake_jupyter(monkeypatch: pytest.MonkeyPatch, widgets: bool) -> type:
    """A kernel's modules and stderr; returns the class tqdm.auto offers there."""
    notebook = types.ModuleType("tqdm.notebook")
    notebook.tqdm = type("tqdm_notebook", (RecordingBar,), {})  # type: ignore[attr-defined]
    auto = types.ModuleType("tqdm.auto")
    # tqdm.auto's own choice: its class derives from the widget's only with ipywidgets.
    chosen = type("tqdm", (notebook.tqdm if widgets else RecordingBar,), {})  # type: ignore[attr-defined]
    auto.tqdm = chosen  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    monkeypatch.setitem(sys.modules, "tqdm.notebook", notebook)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a kernel's stream: no terminal
    RecordingBar.made = []
    return chosen


def train(epochs: int) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.normal(size=(12, 1))
    model = mg.Sequential(mg.Dense(2, 1, rng=0))
    mg.fit(model, mg.MSELoss(), mg.SGD(model.parameters(), lr=0.1), X, y, epochs=epochs,
           batch_size=4, rng=0)


def test_a_terminal_gets_tqdm_auto_s_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    auto = pytest.importorskip("tqdm.auto")
    monkeypatch.setattr(sys, "stderr", Terminal())
    progress = make_progress(True, 3)
    assert isinstance(progress, BarProgress) and progress.tqdm is auto.tqdm


def test_jupyter_gets_the_widget_bar_one_per_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    widget = fake_jupyter(monkeypatch, widgets=True)
    progress = make_progress(True, 2)
    assert isinstance(progress, BarProgress) and progress.tqdm is widget
    train(epochs=2)
    bars = RecordingBar.made
    assert [(bar.desc, bar.total, bar.n, bar.closed) for bar in bars] == [
        ("Epoch 1/2", 3, 3, True), ("Epoch 2/2", 3, 3, True)]
    assert bars[1].postfix.startswith("loss: ")  # the epoch's logs, once it ended
    assert sys.stderr.getvalue() == ""  # no summary lines beside the bars


def test_jupyter_without_ipywidgets_prints_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    # tqdm.auto then falls back to the terminal bar, whose redraws a kernel's stderr
    # would keep as partial lines; so one line per epoch, as in a log.
    fake_jupyter(monkeypatch, widgets=False)
    assert type(make_progress(True, 2)) is LineProgress
    train(epochs=2)
    lines = sys.stderr.getvalue().splitlines()
    assert RecordingBar.made == [] and len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")


def test_no_terminal_no_jupyter_prints_lines_without_importing_tqdm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Untouchable(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"tqdm.auto.{name} used outside a terminal or Jupyter")

    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setitem(sys.modules, "tqdm.auto", Untouchable("tqdm.auto"))
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    train(epochs=3)
    lines = sys.stderr.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(" - loss: " in line for line in lines)


def test_a_terminal_without_tqdm_prints_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm.auto -> ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert type(make_progress(True, 2)) is LineProgress
