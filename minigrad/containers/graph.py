"""`Graph`: layers wired as a directed acyclic graph of named nodes -- itself a `Layer`.

A residual block in four lines::

    block = mg.Graph({
        "fc":  (mg.Dense(8, 8), "input"),          # node: (layer, where its input comes from)
        "act": (mg.Sigmoid(), "fc"),
        "out": (mg.Add(), ("input", "act")),       # a merge layer takes several inputs
    })

All analysis happens once, in the constructor: the wiring is validated and sorted
topologically into a flat *plan*; ``forward`` runs the plan front to back and
``backward`` back to front, summing the gradients of an output used by several nodes.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias, overload

from typing_extensions import override

from minigrad.containers.sequential import Container, SharedUse, tree_repr, uses
from minigrad.core import (
    Array,
    Layer,
    MergeLayer,
    Module,
    check_arity,
    describe,
    name_list,
    raise_located,
)

INPUT = "input"
"""The name under which nodes refer to the graph's own input."""

AnyLayer: TypeAlias = Layer[Any] | MergeLayer[Any]
NodeSpec: TypeAlias = tuple[AnyLayer, str | Sequence[str]]
"""A node: ``(layer, source)`` or ``(merge_layer, (source, source, ...))``; a source is
the name of an earlier node or ``"input"``."""


def topological_order(inputs: Mapping[str, Sequence[str]]) -> list[str]:
    """The node names in an order where every node comes after its inputs.

    Kahn's algorithm, taking among the ready nodes the one listed first in ``inputs``,
    so nodes already listed in a valid order keep it. ``inputs`` maps each node to the
    names it reads; `INPUT` and unknown names are taken as available from the start.

    >>> topological_order({"b": ["a"], "a": ["input"], "c": ["a", "b"]})
    ['a', 'b', 'c']

    Raises
    ------
    ValueError
        If the nodes form a cycle, naming one: ``"Graph: cycle a -> b -> a"``.
    """
    position = {name: index for index, name in enumerate(inputs)}
    waiting = {name: {s for s in sources if s in position} for name, sources in inputs.items()}
    consumers: dict[str, list[str]] = {name: [] for name in inputs}
    for name, sources in waiting.items():
        for source in sources:
            consumers[source].append(name)
    ready = [position[name] for name, sources in waiting.items() if not sources]
    heapq.heapify(ready)
    names = list(inputs)
    order: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for consumer in consumers[name]:
            waiting[consumer].discard(name)
            if not waiting[consumer]:
                heapq.heappush(ready, position[consumer])
    if len(order) < len(names):
        # Every unsorted node still waits on an unsorted one: walk back until a repeat.
        path = [next(name for name in names if waiting[name])]
        while path.count(path[-1]) < 2:
            path.append(min(waiting[path[-1]], key=position.__getitem__))
        cycle = path[path.index(path[-1]):]
        raise ValueError(f"Graph: cycle {' -> '.join(reversed(cycle))}")
    return order


def _parse_node(
    name: object, spec: object, seen: Mapping[str, object]
) -> tuple[str, AnyLayer, tuple[str, ...]]:
    """Validate one ``name: (layer, sources)`` entry on its own; return its parts."""
    if not isinstance(name, str):
        raise TypeError(f"Graph: node names must be strings, got {name!r}")
    if not name or "." in name:
        raise ValueError(f"Graph: node name {name!r} must be non-empty and contain no '.' "
                         "(dots separate the parts of a state_dict key)")
    if name == INPUT:
        raise ValueError(f"Graph: node name {INPUT!r} is reserved for the graph's input")
    if name in seen:
        raise ValueError(f"Graph: duplicate node name {name!r}")
    if not isinstance(spec, (tuple, list)) or len(spec) != 2:
        raise TypeError(f"Graph: node {name!r} must be (layer, input name or names), "
                        f"got {spec!r}")
    layer, source = spec
    if not isinstance(layer, (Layer, MergeLayer)):
        raise TypeError(f"Graph: node {name!r} needs a Layer or MergeLayer, "
                        f"got {describe(layer)}")
    sources = (source,) if isinstance(source, str) else source
    if not isinstance(sources, (tuple, list)) or not all(isinstance(s, str) for s in sources):
        raise TypeError(f"Graph: node {name!r} must name its inputs as strings, got {source!r}")
    try:
        check_arity(layer, len(sources))
    except ValueError as exc:
        hint = "" if isinstance(layer, MergeLayer) or len(sources) < 2 else (
            f" {sources}; join them with a merge layer such as Add() or Concat()")
        raise ValueError(f"Graph: node {name!r}: {exc}{hint}") from None
    return name, layer, tuple(sources)


class Graph(Container):
    """Layers wired as a directed acyclic graph of named nodes; itself a `Layer`.

    Each node applies a layer to the output of an earlier node or of the graph's
    input (named ``"input"``); a `MergeLayer` node (`Add`, `Concat`, ...) reads
    several. The graph's output is the ``output`` node's.

    Backward runs the nodes in reverse; an output read by several nodes (fan-out)
    receives the *sum* of their gradients. One layer instance may serve at several
    nodes (weight sharing): each use keeps its own forward state and the parameter
    gradients of all uses add up (the sharing rule in `minigrad.core.module`).

    Parameters
    ----------
    nodes : mapping or iterable of pairs
        ``{name: (layer, source)}`` or ``{name: (merge_layer, (source, ...))}`` -- or
        the same as ``(name, spec)`` pairs, which is how to have a repeated name caught
        (a dict literal silently keeps only the last; ruff's F601 warns of it).
        Names are non-empty strings without ``.``, other than ``"input"``.
    output : str, optional
        The node whose output the graph returns; by default the last one listed.

    Attributes
    ----------
    nodes : mapping
        name -> layer, in execution order (a topological sort, which keeps the order
        given when that one is valid). The output node is the last.
    inputs : mapping
        name -> tuple of the names it reads.
    output : str
        Read-only, all three: the plan is built from them once; to rewire, build a
        new `Graph` (from the same layer objects, if you like).

    Raises
    ------
    ValueError
        At construction, naming the node: an unknown reference, a duplicate or
        reserved name, a cycle, a merge layer with too few inputs or a `Layer` with
        several, an output that is not a node, or a *dangling* node -- one on no path
        from the input to the output. That last one is an error, not a warning: its
        output would be computed and dropped and its parameters would never train.
    TypeError
        At construction: a node that is not ``(layer, source(s))``, or a layer class
        where an instance belongs (``mg.Sigmoid`` for ``mg.Sigmoid()``).

    Errors raised by a node's layer during ``forward``/``backward`` are re-raised
    with the path to it: ``at Graph['fc']: Dense(4→3) expected ...``.

    Examples
    --------
    >>> import numpy as np, minigrad as mg
    >>> block = mg.Graph({
    ...     "fc": (mg.Dense(2, 2, rng=0), "input"),
    ...     "act": (mg.Sigmoid(), "fc"),
    ...     "out": (mg.Add(), ("input", "act")),
    ... })
    >>> block
    Graph(
      (fc): Dense(2→2)(input)
      (act): Sigmoid()(fc)
      (out): Add()(input, act)
    )
    >>> block(np.zeros((3, 2)))
    array([[0.5, 0.5],
           [0.5, 0.5],
           [0.5, 0.5]])
    >>> list(block.state_dict())
    ['fc.weight']
    """

    # Two signatures, so type checkers infer a dict literal's node specs from the first.
    @overload
    def __init__(self, nodes: Mapping[str, NodeSpec], output: str | None = None) -> None: ...
    @overload
    def __init__(self, nodes: Iterable[tuple[str, NodeSpec]], output: str | None = None) -> None:
        ...
    def __init__(
        self,
        nodes: Mapping[str, NodeSpec] | Iterable[tuple[str, NodeSpec]],
        output: str | None = None,
    ) -> None:
        items = nodes.items() if isinstance(nodes, Mapping) else nodes
        layers: dict[str, AnyLayer] = {}
        inputs: dict[str, tuple[str, ...]] = {}
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(f"Graph: expected (name, (layer, inputs)) pairs, got {item!r}")
            name, layer, sources = _parse_node(item[0], item[1], layers)
            layers[name] = layer
            inputs[name] = sources
        if not layers:
            raise ValueError("Graph needs at least one node")
        for name, sources in inputs.items():
            for source in sources:
                if source != INPUT and source not in layers:
                    raise ValueError(
                        f"Graph: node {name!r} reads {source!r}, which is not a node "
                        f"(nodes: {name_list(layers, brackets=False)}; the graph's input is "
                        f"{INPUT!r})"
                    )
        output = list(layers)[-1] if output is None else output
        if output not in layers:
            raise ValueError(
                f"Graph: output {output!r} is not a node "
                f"(nodes: {name_list(layers, brackets=False)})"
                + ("; a graph's output must pass through at least one node"
                   if output == INPUT else "")
            )
        order = topological_order(inputs)
        _check_all_reach(output, inputs)

        self._nodes: dict[str, AnyLayer] = {name: layers[name] for name in order}
        self._inputs: dict[str, tuple[str, ...]] = {name: inputs[name] for name in order}
        self._output = output
        # The plan: node i of the order writes value slot i + 1 (slot 0 is the input)
        # and reads the slots of its sources; the output node is last (all others
        # feed it), so its value is the last slot. Each node runs its layer, or a
        # `SharedUse` of it where the layer also serves elsewhere.
        slot = {INPUT: 0, **{name: index + 1 for index, name in enumerate(order)}}
        runs = uses(self, list(self._nodes.values()))
        self._plan: tuple[tuple[str, Any, tuple[int, ...], bool], ...] = tuple(
            (name, run, tuple(slot[s] for s in self._inputs[name]),
             isinstance(layer, MergeLayer))
            for (name, layer), run in zip(self._nodes.items(), runs)
        )

    @property
    def nodes(self) -> Mapping[str, AnyLayer]:
        """name -> layer, in execution order (read-only)."""
        return MappingProxyType(self._nodes)

    @property
    def inputs(self) -> Mapping[str, tuple[str, ...]]:
        """name -> the names of the values it reads (read-only)."""
        return MappingProxyType(self._inputs)

    @property
    def output(self) -> str:
        """The node whose value the graph returns."""
        return self._output

    @override
    def named_children(self) -> Iterator[tuple[str, Module[Any]]]:
        yield from self._nodes.items()

    @override
    def forward(self, x: Array) -> Array:
        values = [x]  # slot 0: the graph's input; slot i + 1: node i's output
        name = INPUT
        try:  # each node's layer on the values it reads, in topological order
            for name, layer, sources, _ in self._plan:  # noqa: B007  # name: for errors
                values.append(layer.forward(*[values[s] for s in sources]))
        except Exception as exc:
            raise_located(exc, type(self).__name__, f"[{name!r}]")
        return values[-1]

    @override
    def backward(self, grad_out: Array) -> Array:
        grad_in = self._backward(grad_out, params_only=False)
        assert grad_in is not None, "some node reads the input"
        return grad_in

    @override
    def backward_params(self, grad_out: Array) -> None:
        """Backward without dL/dx: nodes that read only the graph's input run their
        `backward_params`, and nothing is summed for the input."""
        self._backward(grad_out, params_only=True)

    def _backward(self, grad_out: Array, *, params_only: bool) -> Array | None:
        grads = _GradientSums(len(self._plan) + 1, grad_out)  # per value slot, as forward's
        name = self.output
        try:
            for index in range(len(self._plan) - 1, -1, -1):  # each node, last first
                name, layer, sources, merge = self._plan[index]
                grad = grads.pop(index + 1)  # dL/d(its output), summed over its readers
                if params_only and sources == (0,) and not merge:
                    layer.backward_params(grad)  # its gradient would only reach the input
                    layer.release()
                    continue
                input_grads = layer.backward(grad) if merge else (layer.backward(grad),)
                layer.release()  # its forward's cache: used, so freed
                grads.add(layer, sources, input_grads)  # += dL/d(each value it read)
        except Exception as exc:
            raise_located(exc, type(self).__name__, f"[{name!r}]")
        return grads.pop(0)

    def __getitem__(self, name: str) -> AnyLayer:
        """The layer at node ``name``: ``graph["fc"].weight``."""
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"Graph has no node {name!r} (nodes: "
                           f"{name_list(self.nodes, brackets=False)})") from None

    def __len__(self) -> int:
        return len(self.nodes)

    @override
    def __repr__(self) -> str:
        return tree_repr(self, self.inputs)


class _GradientSums:
    """``dL/d(value)`` per value slot of a graph's backward, summed over the nodes that
    read the value: the first gradient is held as it is (a layer's returned array,
    which must not be mutated), the second added into a new array, later ones added
    into that one in place."""

    __slots__ = ("grads", "owned")

    def __init__(self, slots: int, grad_out: Array) -> None:
        self.grads: list[Array | None] = [None] * (slots - 1) + [grad_out]
        self.owned = [False] * slots  # whether grads[s] is this sum's own array

    def pop(self, slot: int) -> Array | None:
        """The sum for ``slot`` (None if nothing reached it), freed: nothing reads it again."""
        grad, self.grads[slot] = self.grads[slot], None
        return grad

    def add(self, layer: object, sources: tuple[int, ...], input_grads: Sequence[Array]
            ) -> None:
        """Add ``layer``'s gradients for its inputs to the sums of the slots it read.

        Raises
        ------
        ValueError
            A merge layer returned another number of gradients than it has inputs, or a
            gradient of another shape than the other readers' of that value (never let
            ``+`` broadcast).
        """
        if len(input_grads) != len(sources):
            raise ValueError(f"{_named(layer)!r}.backward returned {len(input_grads)} "
                             f"gradients for {len(sources)} inputs")
        grads, owned = self.grads, self.owned
        for source, input_grad in zip(sources, input_grads):
            held = grads[source]
            if held is None:
                grads[source] = input_grad
            elif held.shape != input_grad.shape:
                raise ValueError(
                    f"{_named(layer)!r}.backward returned a gradient of shape "
                    f"{tuple(input_grad.shape)}, but the other consumers of that input "
                    f"returned shape {tuple(held.shape)}"
                )
            elif owned[source]:
                held += input_grad
            else:
                grads[source] = held + input_grad
                owned[source] = True


def _named(layer: object) -> object:
    """The layer a plan entry runs (the layer itself, or the one a `SharedUse` runs)."""
    return layer.layer if isinstance(layer, SharedUse) else layer


def _check_all_reach(output: str, inputs: Mapping[str, Sequence[str]]) -> None:
    """Raise if a node's output never reaches ``output`` (checked after the sort, so
    there is no cycle; every node reads at least one source, so every node is
    reachable from the input and "on a path from input to output" means "reaches
    the output")."""
    reaching = {output}
    stack = [output]
    while stack:
        for source in inputs[stack.pop()]:
            if source != INPUT and source not in reaching:
                reaching.add(source)
                stack.append(source)
    dangling = [name for name in inputs if name not in reaching]
    if dangling:
        raise ValueError(
            f"Graph: dangling node{'s' if len(dangling) > 1 else ''} "
            f"{name_list(dangling, brackets=False)}: on no path from the input to the output "
            f"{output!r}, so never trained; remove or use "
            f"{'them' if len(dangling) > 1 else 'it'}"
        )
