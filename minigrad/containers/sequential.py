"""`Sequential`: layers applied one after another -- itself a `Layer`.

Also the `Container` base it shares with `Graph` (the per-position stashes of weight
sharing) and the helpers both use.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NoReturn, overload

from typing_extensions import override

from minigrad.core import Array, Layer, MergeLayer, Module, Parameter, describe, raise_located
from minigrad.core.tree import release_modules, release_tree, retaining, tree_of


def shared_children(children: list[Module[Any]]) -> list[bool]:
    """For each child: does its subtree share a module with itself elsewhere or a sibling?

    Such children must have their per-use state stashed after each forward and restored
    before the matching backward, since one instance serves several places.
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


def tree_repr(module: Module[Any], inputs: Mapping[str, Sequence[str]] | None = None) -> str:
    """PyTorch-style multi-line repr: one ``(name): child`` line per child, indented.

    With ``inputs`` (a graph's wiring), each line ends like a call on the child's
    inputs: ``(out): Add()(input, act)``.
    """
    lines = [f"{type(module).__name__}("]
    for name, child in module.named_children():
        child_text = repr(child).replace("\n", "\n  ")
        call = "" if inputs is None else f"({', '.join(inputs[name])})"
        lines.append(f"  ({name}): {child_text}{call}")
    lines.append(")")
    return "\n".join(lines)


class Container(Layer[None]):
    """Base of the containers: layers holding child modules at fixed positions.

    A child whose subtree also appears at another position (weight sharing) is stashed
    (`Module.stash`: its whole per-use state, sub-layers included) after its forward,
    into ``_stashes`` (one slot per position, or None when nothing is shared), and
    restored before the matching backward: the container runs a `SharedUse` of it there
    (see `uses`), so its own loops are the plain ones. A container's own per-use state is
    those slots (a list, copied by `stash`), so `stash`, `unstash` and `clear_cache`
    cover them, and a container can itself be shared, nested in another container.

    Each child's backward is followed by its `Module.release`: what its forward kept
    goes as soon as it is used, not at the next forward.
    """

    _stashes: list[object] | None = None  # and `Module._shared_uses`, the uses filling them
    releases_in_backward = True  # each child's release follows its backward

    @override
    def clear_cache(self) -> None:
        super().clear_cache()
        if self._stashes is not None:
            self._stashes = [None] * len(self._stashes)


class SharedUse:
    """One position of a layer that also serves at others (weight sharing), standing in
    for it in a container's plan: the layer's ``forward``, then its per-use state
    stashed into the container's slot for this position (`Module.stash`); that state
    restored (`Module.unstash`), then the layer's ``backward`` or `backward_params`; its
    `release` keeps in the slot the use's state with the cache let go of. So each use's
    backward sees its own forward, and a container's loops need no branch.

    It holds its container weakly: the container's plan, with its uses, is kept in the
    container's cached `Tree` (`plan_of`), in a table that must not keep the container
    alive (a model dropped after use is freed). Copied or pickled with its container."""

    __slots__ = ("container", "layer", "slot")

    def __init__(self, container: Container, slot: int,
                 layer: Layer[Any] | MergeLayer[Any]) -> None:
        self.container = weakref.ref(container)
        self.slot, self.layer = slot, layer

    def __reduce__(self) -> tuple[type[SharedUse], tuple[Any, ...]]:
        return SharedUse, (self.container(), self.slot, self.layer)

    def _slots(self) -> list[object]:
        container = self.container()
        assert container is not None, "a use runs only through its container"
        slots = container._stashes
        assert slots is not None, "a container with shared layers has a slot per position"
        return slots

    def forward(self, *xs: Array) -> Array:
        y = self.layer.forward(*xs)
        self._slots()[self.slot] = self.layer.stash()
        return y

    def backward(self, grad_out: Array) -> Any:
        self.layer.unstash(self._slots()[self.slot])
        return self.layer.backward(grad_out)

    def backward_params(self, grad_out: Array) -> None:
        assert isinstance(self.layer, Layer), "only a Layer has backward_params"
        self.layer.unstash(self._slots()[self.slot])
        self.layer.backward_params(grad_out)

    def release(self) -> None:
        """After this use's backward: the layer's cache let go of, the slot holding the
        released state (a second backward raises). A container's backward emptied the
        stash slots of the containers inside, so only the caches go (`release_modules`);
        another layer's ``backward_params`` may have skipped a container it holds, whose
        slots go too (`release_tree`)."""
        if not retaining():
            layer = self.layer
            if type(layer).release is not Module.release:  # the layer's own
                layer.release()
            elif layer.releases_in_backward:
                release_modules(tree_of(layer).modules)
            else:
                release_tree(layer)
            self._slots()[self.slot] = layer.stash()

    def release_unused(self) -> None:
        """`release` for a use whose backward did not run: its own state restored first,
        so that it keeps its attributes other than ``cache``, as a used one does. Its
        callers (`Plan.skips`, `Module.release`) run it outside `retain_graph` only."""
        slots = self._slots()
        stashed = slots[self.slot]
        if stashed is None:  # no forward since the container was made or cleared
            return
        try:
            self.layer.unstash(stashed)
        except RuntimeError:  # the layer's modules changed since that forward: a release
            slots[self.slot] = None  # must not raise, and the state is of no use anymore
            return
        self.layer.release()  # `Module.release`: the slots of the containers inside too
        slots[self.slot] = self.layer.stash()


def uses(container: Container, children: Sequence[Layer[Any] | MergeLayer[Any]]
         ) -> list[Any]:
    """What a container's plan runs at each position: the child itself, or a `SharedUse`
    of it where its subtree also serves at another position (so must be stashed); sets
    the container's stash slots (None when nothing is shared)."""
    flags = shared_children(list(children))
    container._stashes = [None] * len(children) if any(flags) else None
    runs = [SharedUse(container, slot, child) if flag else child
            for slot, (child, flag) in enumerate(zip(children, flags))]
    container._shared_uses = tuple(run for run in runs if isinstance(run, SharedUse))
    return runs


def _retained() -> None:
    """A subtree's release inside `minigrad.retain_graph`: nothing."""


Step = tuple[Any, Callable[[], None]]
"""A position of a container's backward: its use, and what lets its cache go after."""


class Plan:
    """What a container's backward runs, last position first: each use (the child, or
    its `SharedUse`) and what lets its forward's cache go afterwards -- `release_modules`
    of its subtree's modules, or its own ``release`` where it has one (a `SharedUse`, a
    layer that overrides `Module.release`, which also runs inside `retain_graph`: it
    decides there itself). Plus the split `Sequential.backward_params` takes at its
    first trainable position.

    A container keeps two, for outside and inside `minigrad.retain_graph` (`plan_of`),
    found once per structure -- kept in its `Tree` (``memo``), rebuilt when anything in
    the subtree changes -- not looked up for each layer at each step: those look-ups
    were a sixth of the blog net's training step.
    """

    __slots__ = ("_split", "skips", "steps")

    def __init__(self, steps: tuple[Step, ...], skips: tuple[Callable[[], None], ...]) -> None:
        self.steps = steps
        self.skips = skips
        """Per step, what lets its cache go where its backward was skipped (the positions
        in front of `split`'s): a container's release also empties its stash slots,
        which its own backward would have done, and a shared use restores its state
        first (`SharedUse.release_unused`)."""
        self._split: tuple[Any, ...] | None = None

    def split(self, first: int) -> tuple[Any, ...]:
        """``(first, the steps after it, its use, the releases of it and of the positions
        in front of it)`` -- what `Sequential.backward_params` runs down to position
        ``first``, whose backward skips those in front."""
        found = self._split
        if found is None or found[0] != first:  # the first trainable moved: found again
            at = len(self.steps) - 1 - first  # ``first``'s place, last position first
            found = self._split = (first, self.steps[:at], self.steps[at][0],
                                   (self.steps[at][1], *self.skips[at + 1:]))
        return found


def plan_of(container: Container, uses: Sequence[Any]) -> Plan:
    """The `Plan` of ``container``, whose positions run ``uses``, for outside or inside
    `minigrad.retain_graph`, as it is now; kept with the container's `Tree`."""
    memo = tree_of(container).memo
    plans: Any = memo.get("plans")
    if plans is None:
        own = [type(use).release is not Module.release for use in uses]
        frees = [use.release if has_own else partial(release_modules, tuple(tree_of(use).modules))
                 for use, has_own in zip(uses, own)]
        keeps = [use.release if has_own else _retained for use, has_own in zip(uses, own)]
        # A child whose subtree shares a layer is a `SharedUse` (`shared_children`), so
        # the others hold no stash slots: their release is the same, run or skipped.
        skips = [use.release_unused if isinstance(use, SharedUse) else free
                 for use, free in zip(uses, frees)]
        plans = memo["plans"] = (Plan(tuple(zip(uses, frees))[::-1], tuple(skips[::-1])),
                                 Plan(tuple(zip(uses, keeps))[::-1], tuple(keeps[::-1])))
    return plans[retaining()]  # type: ignore[no-any-return]


class Sequential(Container):
    """Apply ``layers`` in order; backward runs them in reverse.

    Supports ``len``, iteration and indexing (``model[1].weight``; a slice gives a new
    `Sequential` of the same layer objects). Errors raised inside are re-raised with
    the path to the failing layer: ``at Sequential[1]: Dense(4→3) expected ...``.

    One layer object may appear more than once (weight sharing): each use keeps its
    own forward state and the parameter gradients of all uses add up (the sharing rule
    in `minigrad.core.module` says what is per use).

    Shapes: ``x (N, d_0) -> y (N, d_k)``, whatever the layers map between.

    Cache: none of its own; each layer keeps its state (shared layers: one stash per
    position).

    Parameters
    ----------
    *layers : Layer
        The layers, first applied first (at least one).

    Raises
    ------
    ValueError
        From the constructor: no layers.
    TypeError
        From the constructor: an argument that is not a `Layer`, naming its position.
    TypeError, ValueError, RuntimeError, KeyError
        From ``forward``/``backward``: a layer's error, re-raised as the same type with
        the path to that layer prepended (``at Sequential[1]: ...``).
    """

    def __init__(self, *layers: Layer[Any]) -> None:
        if not layers:
            raise ValueError("Sequential needs at least one layer (use Identity() for none)")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: argument {index} must be a Layer, got {describe(layer)}"
                )
        self.layers: tuple[Layer[Any], ...] = layers
        self._uses: tuple[Layer[Any], ...] = tuple(uses(self, layers))  # run in order
        self._first_trainable = len(layers)
        self.parameters()  # the walk sets _first_trainable

    @override
    def named_children(self) -> Iterator[tuple[str, Module[Any]]]:
        for index, layer in enumerate(self.layers):
            yield str(index), layer

    @override
    def _walk_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        # One pass that also re-finds the first trainable layer, on every complete walk
        # (how optimizers get their parameters): a layer given a Parameter after this
        # Sequential was built must not be skipped by backward_params.
        for name, value in self.named_members():
            if isinstance(value, Parameter):  # a Parameter attribute of this Sequential
                yield prefix + name, value
        first = len(self.layers)
        for index, layer in enumerate(self.layers):
            for item in layer._walk_parameters(f"{prefix}{index}."):
                first = min(first, index)
                yield item
        self._first_trainable = first

    @override
    def forward(self, x: Array) -> Array:
        try:
            for layer in self._uses:  # x ← layer(x), first layer first
                x = layer.forward(x)
        except Exception as exc:
            self._reraise_at(exc, layer)
        return x

    @override
    def backward(self, grad_out: Array) -> Array:
        steps = plan_of(self, self._uses).steps  # found before: its errors are no layer's
        try:  # G ← dL/d(layer's input), last layer first
            for layer, release in steps:
                grad_out = layer.backward(grad_out)
                release()  # its forward's cache: used, so freed
        except Exception as exc:
            self._reraise_at(exc, layer)
        return grad_out

    @override
    def backward_params(self, grad_out: Array) -> None:
        """Backward without dL/dx: the first layer that has parameters only accumulates
        them (`Layer.backward_params`), and the parameter-free layers in front of it are
        not run at all."""
        first = self._first_trainable
        if first == len(self._uses):  # nothing to train; a full backward still validates
            self.backward(grad_out)
            return
        _, after, trainable, releases = plan_of(self, self._uses).split(first)
        try:  # as backward, down to the first trainable
            for layer, release in after:
                grad_out = layer.backward(grad_out)
                release()
            layer = trainable
            layer.backward_params(grad_out)
        except Exception as exc:
            self._reraise_at(exc, layer)
        for release in releases:  # its own, and those in front, whose backward is skipped
            release()

    def _reraise_at(self, exc: Exception, use: Layer[Any]) -> NoReturn:
        """Re-raise ``exc`` with the position of ``use`` (an item of ``_uses``) in its path."""
        index = next(i for i, item in enumerate(self._uses) if item is use)
        raise_located(exc, type(self).__name__, f"[{index}]")

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
