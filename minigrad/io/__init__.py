"""Saving and loading: `save`/`load` of anything with a ``state_dict`` (`npz`), and
training checkpoints -- model, optimizer, scheduler and random state together
(`checkpoint`)."""

from minigrad.io.checkpoint import load_checkpoint, save_checkpoint
from minigrad.io.npz import load, save

__all__ = ["load", "load_checkpoint", "save", "save_checkpoint"]
