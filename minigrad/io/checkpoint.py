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

from minigrad.core import Array, Module, name_list
from minigrad.io.atomic import StrPath
from minigrad.io.npz import load, save
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
        generators = {f"module_rng.{path}": g for path, g in self.generators.items()}
        if self.rng is not None:
            generators["rng"] = self.rng
        saved: dict[str, Array] = {}
        for key, value in state.items():
            prefix, _, rest = key.partition(".")
            if prefix in split:
                split[prefix][rest] = value
            elif key in generators:
                saved[key] = value
            else:
                raise KeyError(f"load_checkpoint: unexpected key {key!r} (a part not asked "
                               "for, or another model)")
        missing = sorted(generators.keys() - saved.keys())
        missing += [prefix for prefix, part in split.items() if not part]
        if missing:
            raise KeyError(f"load_checkpoint: the checkpoint lacks {name_list(missing)}")
        # Every part is checked before any is written, so a refusal changes nothing (and
        # nothing has to be rolled back: a rollback could itself be refused, say for a
        # diverged model's NaN weights).
        writes = []
        for prefix, part in self.parts.items():
            try:
                writes.append(part.check_state_dict(split[prefix]))
            except (KeyError, ValueError, TypeError) as exc:
                message = exc.args[0] if exc.args else ""
                raise type(exc)(f"load_checkpoint: part {prefix!r}: {message}") from exc
        states = {key: _generator_state(key, saved[key], g) for key, g in generators.items()}
        for write in writes:
            write()
        for key, generator in generators.items():
            generator.bit_generator.state = states[key]


def _generator_state(key: str, value: Array, generator: np.random.Generator) -> Any:
    """The state saved under ``key`` for ``generator``, parsed and tried on a fresh bit
    generator of its kind, so that assigning it cannot fail; `ValueError` naming ``key``
    otherwise."""
    kind = type(generator.bit_generator)
    if value.shape != () or value.dtype.kind != "U":
        raise ValueError(f"load_checkpoint: part {key!r} must be a generator state as a JSON "
                         f"string, got dtype {value.dtype}, shape {value.shape}")
    try:
        state = json.loads(str(value))
    except json.JSONDecodeError as exc:
        raise ValueError(f"load_checkpoint: part {key!r} is not valid JSON ({exc})") from None
    try:
        kind().state = state  # NumPy checks the generator's name and every field
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"load_checkpoint: part {key!r} is not a state of the "
                         f"{kind.__name__} generator it would restore: {exc}") from None
    return state


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
    replaced (then give it to `fit`). Every part -- the model, the optimizer, the
    scheduler and each generator's state -- is checked before any is written: if one
    is refused, all are left as they were.

    Raises
    ------
    KeyError
        A part missing from the file, or one in the file that was not passed.
    ValueError, FileNotFoundError
        As `mg.load`, naming ``path``; a part's refusal also names the part
        (``'optimizer'``, ``'rng'``, ``'module_rng.1.rng'``): for a generator, a state
        that is not a JSON string, not JSON, or not one of that generator's kind.
    """
    load(_Checkpoint(model, optimizer, scheduler, rng), path)
