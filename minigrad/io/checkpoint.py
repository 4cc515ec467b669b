"""One-file checkpoints: model, optimizer, scheduler and random generators together.

`save_checkpoint` writes them into one ``.npz`` through `mg.save` (so atomically: a
crash leaves the previous checkpoint intact); `load_checkpoint` checks every part
before changing any object. The generators are `fit`'s shuffling ``rng`` and every
module attribute holding a NumPy ``Generator`` (each `Dropout`'s ``rng``), stored as
their ``bit_generator.state`` in JSON: a run interrupted between epochs resumes bit
for bit when `fit` is then given the restored generator.

Keys: ``model.*``, ``optimizer.*``, ``scheduler.*``, ``rng`` (JSON), and
``module_rng.<path>`` (JSON) for each module generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from minigrad.core import Array, Module
from minigrad.io.npz import StrPath, load, save
from minigrad.optim import Optimizer
from minigrad.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

Scheduler = LRScheduler | ReduceLROnPlateau


def _module_generators(model: Module[Any]) -> Iterator[tuple[str, np.random.Generator]]:
    """``(path.attribute, generator)`` for every Generator held by a module of ``model``."""
    seen: set[int] = set()
    for path, module in _named_modules(model, ""):
        if id(module) in seen:
            continue
        seen.add(id(module))
        for attribute, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                yield (f"{path}.{attribute}" if path else attribute), value


def _named_modules(module: Module[Any], prefix: str) -> Iterator[tuple[str, Module[Any]]]:
    yield prefix, module
    for name, child in module.named_children():
        yield from _named_modules(child, f"{prefix}.{name}" if prefix else name)


def _json(generator: np.random.Generator) -> Array:
    return np.array(json.dumps(generator.bit_generator.state))


class _Checkpoint:
    """The parts as one `Stateful`, so `mg.save` / `mg.load` write and read them."""

    def __init__(self, model: Module[Any], optimizer: Optimizer | None,
                 scheduler: Scheduler | None, rng: np.random.Generator | None) -> None:
        self.parts: dict[str, Module[Any] | Optimizer | Scheduler] = {"model": model}
        if optimizer is not None:
            self.parts["optimizer"] = optimizer
        if scheduler is not None:
            self.parts["scheduler"] = scheduler
        self.rng = rng
        self.generators = dict(_module_generators(model))

    def state_dict(self) -> dict[str, Array]:
        state: dict[str, Array] = {}
        for prefix, part in self.parts.items():
            state.update((f"{prefix}.{key}", value) for key, value in part.state_dict().items())
        if self.rng is not None:
            state["rng"] = _json(self.rng)
        state.update((f"module_rng.{path}", _json(g)) for path, g in self.generators.items())
        return state

    def load_state_dict(self, state: Mapping[str, Array]) -> None:
        split: dict[str, dict[str, Array]] = {prefix: {} for prefix in self.parts}
        generators: dict[str, Any] = {}
        expected = {f"module_rng.{path}" for path in self.generators}
        if self.rng is not None:
            expected.add("rng")
        for key, value in state.items():
            prefix, _, rest = key.partition(".")
            if prefix in split:
                split[prefix][rest] = value
            elif key in expected:
                generators[key] = json.loads(str(value))
            else:
                raise KeyError(f"load_checkpoint: unexpected key {key!r} (a part not asked "
                               "for, or another model)")
        missing = sorted(expected - generators.keys())
        missing += [prefix for prefix, part in split.items() if not part]
        if missing:
            raise KeyError(f"load_checkpoint: the checkpoint lacks {missing}")
        # Check every part before changing any: load into the objects only after the
        # model (which validates fully before writing) and the rest accepted theirs.
        snapshots = {prefix: part.state_dict() for prefix, part in self.parts.items()}
        try:
            for prefix, part in self.parts.items():
                part.load_state_dict(split[prefix])
        except BaseException:
            for prefix, part in self.parts.items():
                part.load_state_dict(snapshots[prefix])
            raise
        if self.rng is not None:
            self.rng.bit_generator.state = generators["rng"]
        for path, generator in self.generators.items():
            generator.bit_generator.state = generators[f"module_rng.{path}"]


def save_checkpoint(
    path: StrPath,
    *,
    model: Module[Any],
    optimizer: Optimizer | None = None,
    scheduler: Scheduler | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Save ``model``, ``optimizer``, ``scheduler``, ``rng`` (the Generator given to
    `fit`) and every module's Generator into one ``.npz``, atomically (`mg.save`).

    Raises: as `mg.save`.
    """
    save(_Checkpoint(model, optimizer, scheduler, rng), path)


def load_checkpoint(
    path: StrPath,
    *,
    model: Module[Any],
    optimizer: Optimizer | None = None,
    scheduler: Scheduler | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Restore what `save_checkpoint` wrote into these (freshly built) objects.

    Pass the same parts that were saved; ``rng`` is a Generator whose state is
    replaced (then give it to `fit`). If any part refuses its state, all are left as
    they were.

    Raises
    ------
    KeyError
        A part missing from the file, or one in the file that was not passed.
    ValueError, FileNotFoundError
        As `mg.load`, naming ``path``.
    """
    load(_Checkpoint(model, optimizer, scheduler, rng), path)
