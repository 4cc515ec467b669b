"""Saving and loading: `save`/`load` of anything with a ``state_dict`` (`npz`), and
training checkpoints -- model, optimizer, scheduler and random state together
(`checkpoint`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from minigrad.core.exports import lazy_exports

_HOMES: dict[str, tuple[str, ...]] = {  # where each name of __all__ is defined
    "minigrad.io.checkpoint": ("load_checkpoint", "save_checkpoint"),
    "minigrad.io.npz": ("load", "save"),
}

if TYPE_CHECKING:
    from minigrad.io.checkpoint import load_checkpoint, save_checkpoint
    from minigrad.io.npz import load, save

__all__ = ["load", "load_checkpoint", "save", "save_checkpoint"]

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
