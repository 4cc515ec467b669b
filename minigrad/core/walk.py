"""Helpers of `Module`'s tree walks: expanding lists, tuples and dicts of members, and the
first path of a shared member."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from minigrad.core.parameter import Buffer, Parameter

_Member = TypeVar("_Member", Parameter, Buffer)


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
