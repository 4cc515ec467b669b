"""Helpers of `Module`'s tree walks and of its `stash`: expanding lists, tuples and dicts
of members, the first path of a shared member, copying per-use state one level deep."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TypeVar

from minigrad.core.parameter import Buffer, Parameter

_Member = TypeVar("_Member", Parameter, Buffer)


def copy_one_level(value: object) -> object:
    """``value``, with a list, dict or set replaced by a shallow copy."""
    if isinstance(value, (list, dict, set)):
        return copy.copy(value)
    return value


def first_paths(walk: Iterator[tuple[str, _Member]]) -> Iterator[tuple[str, _Member]]:
    """The items of ``walk``, each object once, under the first path it was met at."""
    seen: set[int] = set()
    for name, member in walk:
        if id(member) not in seen:
            seen.add(id(member))
            yield name, member


def expand(name: str, value: object) -> Iterator[tuple[str, object]]:
    """``(name, value)``, or for a list, tuple or dict each item under ``name.index`` /
    ``name.key``, recursively."""
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from expand(f"{name}.{index}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from expand(f"{name}.{key}", item)
    else:
        yield name, value
