"""What `fit` reports: the `History` it returns, and the progress it prints while it runs."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import override

from minigrad.core import name_list


class History:
    """What `fit` measured, epoch by epoch.

    Attributes
    ----------
    history : dict of str to list of float
        One list per quantity, one entry per completed epoch: ``"loss"``, each metric by
        name, and with validation data ``"val_loss"`` and ``"val_<metric>"``.
    epoch : list of int
        The (0-based) indices of the completed epochs.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Record the logs of one completed epoch."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: str | None = None, keys: Sequence[str] | None = None) -> Any:
        """Draw each quantity per epoch, training and validation (``val_*``) together.

        One panel per quantity (``"loss"`` first, then each metric), the validation
        curve dashed beside the training one. Needs matplotlib (the ``examples``
        extra), imported only here.

        Parameters
        ----------
        path : str, optional
            Save the figure there (e.g. a ``.png``) as well as returning it.
        keys : sequence of str, optional
            The quantities to draw (without ``val_``); default: all training ones.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            matplotlib is not installed.
        ValueError
            Nothing recorded yet, or a key that was not logged.
        """
        try:
            pyplot = importlib.import_module("matplotlib.pyplot")
        except ImportError as exc:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from exc
        names = [k for k in self.history if not k.startswith("val_")] if keys is None else keys
        if not self.epoch or not names:
            raise ValueError("History.plot: nothing recorded yet")
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(f"History.plot: {name_list(unknown)} not logged; keys: "
                             f"{name_list(self.history)}")
        figure, axes = pyplot.subplots(1, len(names), figsize=(4.5 * len(names), 3.5),
                                       squeeze=False)
        epochs = [epoch + 1 for epoch in self.epoch]
        for axis, name in zip(axes[0], names):
            axis.plot(epochs, self.history[name], label="training")
            if "val_" + name in self.history:
                axis.plot(epochs, self.history["val_" + name], "--", label="validation")
            axis.set_xlabel("epoch")
            axis.set_title(name)
            axis.grid(alpha=0.3)
            axis.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


# -- progress output -------------------------------------------------------------------


def _format_logs(logs: Mapping[str, float]) -> str:
    return " - ".join(f"{key}: {value:.4g}" for key, value in logs.items())


class LineProgress:
    """One summary line per epoch on stderr (no terminal needed: logs, CI)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.start = 0.0

    def begin_epoch(self, epoch: int, steps: int | None) -> None:
        self.start = time.perf_counter()

    def batch_end(self, running_loss: float) -> None:
        pass

    def end_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        seconds = time.perf_counter() - self.start
        print(
            f"Epoch {epoch + 1}/{self.epochs} - {seconds:.2f}s - {_format_logs(logs)}",
            file=sys.stderr,
        )

    def close(self) -> None:
        pass


class BarProgress(LineProgress):
    """A live tqdm bar per epoch, showing the running loss, then the epoch's logs."""

    def __init__(self, epochs: int, tqdm: Any) -> None:
        super().__init__(epochs)
        self.tqdm = tqdm
        self.bar: Any = None

    @override
    def begin_epoch(self, epoch: int, steps: int | None) -> None:
        self.bar = self.tqdm(
            total=steps, desc=f"Epoch {epoch + 1}/{self.epochs}", file=sys.stderr, leave=True
        )

    @override
    def batch_end(self, running_loss: float) -> None:
        self.bar.set_postfix_str(f"loss: {running_loss:.4g}", refresh=False)
        self.bar.update()

    @override
    def end_epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        self.bar.set_postfix_str(_format_logs(logs), refresh=False)
        self.close()

    @override
    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def make_progress(progress: bool, epochs: int) -> LineProgress | None:
    """A live tqdm bar on a terminal or in Jupyter (when tqdm is installed), else summary
    lines: the bar's redraws would fill a log file or CI output with partial lines."""
    if not progress:
        return None
    terminal = sys.stderr.isatty()
    if not terminal and "IPython" not in sys.modules:
        return LineProgress(epochs)  # logs, CI, pipes: not even tqdm's import
    try:
        # tqdm.auto is tqdm.notebook's widget in a Jupyter kernel (with ipywidgets), whose
        # stderr is no terminal; elsewhere it is the terminal bar.
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return LineProgress(epochs)
    notebook = sys.modules.get("tqdm.notebook")
    if terminal or (notebook is not None and issubclass(tqdm, notebook.tqdm)):
        return BarProgress(epochs, tqdm)
    return LineProgress(epochs)  # an IPython console without a terminal, or no ipywidgets
