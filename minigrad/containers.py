"""`Sequential`: layers applied one after another -- itself a `Layer`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from typing_extensions import override

from minigrad.base import Array, Layer, Module, raise_located


def shared_children(children: list[Module[Any]]) -> list[bool]:
    """For each child: does its subtree share a module with itself elsewhere or a sibling?

    Such children must have their cache stashed after each forward and restored before
    the matching backward, since one instance serves several places.
    """
    owners: dict[int, set[int]] = {}
    uses: dict[int, int] = {}
    for index, child in enumerate(children):
        for module in child.modules():
            owners.setdefault(id(module), set()).add(index)
            uses[id(module)] = uses.get(id(module), 0) + 1
    shared = {key for key, count in uses.items() if count > 1}
    flags = [False] * len(children)
    for key in shared:
        for index in owners[key]:
            flags[index] = True
    return flags


def tree_repr(module: Module[Any]) -> str:
    """PyTorch-style multi-line repr: one ``(name): child`` line per child, indented."""
    lines = [f"{type(module).__name__}("]
    for name, child in module.named_children():
        child_text = repr(child).replace("\n", "\n  ")
        lines.append(f"  ({name}): {child_text}")
    lines.append(")")
    return "\n".join(lines)


class Sequential(Layer[None]):
    """Apply ``layers`` in order; backward runs them in reverse.

    Supports ``len``, iteration and indexing (``model[1].weight``; a slice gives a new
    `Sequential` of the same layer objects). Errors raised inside are re-raised with
    the path to the failing layer: ``at Sequential[1]: Dense(4→3) expected ...``.

    One layer object may appear more than once (weight sharing): each use keeps its
    own forward cache and the parameter gradients of all uses add up.
    """

    def __init__(self, *layers: Layer[Any]) -> None:
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                got = (
                    f"the class {layer.__name__}; did you mean {layer.__name__}()?"
                    if isinstance(layer, type)
                    else type(layer).__name__
                )
                raise TypeError(f"Sequential: argument {index} must be a Layer, got {got}")
        self.layers: tuple[Layer[Any], ...] = layers
        flags = shared_children(list(layers))
        # Stashed caches, one slot per position, only for positions that need them.
        self._stashes: list[object] | None = [None] * len(layers) if any(flags) else None
        self._shared = flags

    @override
    def named_children(self) -> Iterator[tuple[str, Module[Any]]]:
        for index, layer in enumerate(self.layers):
            yield str(index), layer

    @override
    def forward(self, x: Array) -> Array:
        index = 0
        try:
            if self._stashes is None:
                for index, layer in enumerate(self.layers):  # noqa: B007  # index: for errors
                    x = layer.forward(x)
            else:
                for index, layer in enumerate(self.layers):
                    x = layer.forward(x)
                    if self._shared[index]:
                        self._stashes[index] = layer.stash()
        except Exception as exc:
            raise_located(exc, type(self).__name__, f"[{index}]")
        self.cache = None
        return x

    @override
    def backward(self, grad_out: Array) -> Array:
        index = len(self.layers) - 1
        try:
            if self._stashes is None:
                for index in range(len(self.layers) - 1, -1, -1):
                    grad_out = self.layers[index].backward(grad_out)
            else:
                for index in range(len(self.layers) - 1, -1, -1):
                    layer = self.layers[index]
                    if self._shared[index]:
                        layer.unstash(self._stashes[index])
                    grad_out = layer.backward(grad_out)
        except Exception as exc:
            raise_located(exc, type(self).__name__, f"[{index}]")
        return grad_out

    @override
    def clear_cache(self) -> None:
        super().clear_cache()
        if self._stashes is not None:
            self._stashes = [None] * len(self.layers)

    @override
    def stash(self) -> object:
        own = None if self._stashes is None else list(self._stashes)
        return [layer.stash() for layer in self.layers], own

    @override
    def unstash(self, stashed: object) -> None:
        if stashed is None:  # a position that has not run forward yet
            self.clear_cache()
            return
        assert isinstance(stashed, tuple), "unstash() takes what stash() returned"
        children, own = stashed
        for layer, item in zip(self.layers, children):
            layer.unstash(item)
        self._stashes = own

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer[Any]]:
        return iter(self.layers)

    @overload
    def __getitem__(self, index: int) -> Layer[Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Layer[Any] | Sequential:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    @override
    def __repr__(self) -> str:
        return tree_repr(self)
