"""The registries, the converters of the structural layers and containers, `to_torch` and
`load_torch_state_dict`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from minigrad.containers.graph import INPUT, Graph
from minigrad.containers.sequential import Sequential
from minigrad.core import Array, Module, check_finite_state, name_list
from minigrad.layers.dense import Bias, Dense, Identity
from minigrad.layers.merge import Add, Concat
from minigrad.layers.regularization import Dropout

Convert = Callable[[Module[Any]], nn.Module]
"""``convert(module) -> torch module``, memoized: a shared module converts once."""
StateConverter = Callable[[Any, dict[str, Array]], dict[str, Array]]
"""``(layer, its module's state with local keys) -> the layer's own state_dict entries``."""

TORCH_CONVERTERS: dict[type[Module[Any]], Callable[[Any, Convert], nn.Module]] = {}
"""Layer type -> ``converter(layer, convert) -> torch.nn.Module``."""
TORCH_STATE_CONVERTERS: dict[type[Module[Any]], StateConverter] = {}
"""Layer type -> how its PyTorch state maps back (needed by layers owning parameters)."""
CONTAINERS: tuple[type[Module[Any]], ...] = (Sequential, Graph)
"""Containers whose torch module keeps their children under the same names."""

HOOK = "to_torch"
STATE_HOOK = "from_torch_state"

M = TypeVar("M", bound=Module[Any])


def register_torch(
    layer_type: type[M], *, state: Callable[[M, dict[str, Array]], dict[str, Array]] | None = None
) -> Callable[[Callable[[M, Convert], nn.Module]], Callable[[M, Convert], nn.Module]]:
    """Decorator: make ``function(layer, convert)`` the torch converter of exactly
    ``layer_type``, and ``state`` (if the layer owns parameters) its state's way back."""

    def decorate(function: Callable[[M, Convert], nn.Module]) -> Callable[[M, Convert], nn.Module]:
        TORCH_CONVERTERS[layer_type] = function
        if state is not None:
            TORCH_STATE_CONVERTERS[layer_type] = state
        return function

    return decorate


def register_stateless(layer_type: type[Module[Any]],
                       make: Callable[[Any], nn.Module]) -> None:
    """Make ``make(layer)`` the torch converter of ``layer_type``: a layer without state
    (nor sub-modules), whose module its options alone build."""
    TORCH_CONVERTERS[layer_type] = lambda layer, convert: make(layer)


def _refusal(module: Module[Any], what: str) -> TypeError:
    kind = type(module)
    return TypeError(
        f"{what}: {module!r} ({kind.__module__}.{kind.__qualname__}) has no torch converter; "
        f"give it a method {HOOK}(self, convert) -> torch.nn.Module (and, if it has "
        f"parameters, {STATE_HOOK}(self, state) -> dict), or register one with "
        f"@minigrad.export.torch.register_torch({kind.__name__}) (see docs/interop.md)"
    )


def _converter(module: Module[Any], hook: str, registry: Mapping[type[Module[Any]], Any],
               what: str) -> Callable[[Any], Any]:
    """How to convert ``module``: its own method ``hook`` if it has one, else the converter
    registered for its type (given the module first); neither is refused, naming ``what``."""
    own: Callable[[Any], Any] | None = getattr(module, hook, None)
    if callable(own):
        return own
    converter = registry.get(type(module))
    if converter is None:
        raise _refusal(module, what)
    return functools.partial(converter, module)


def to_torch(model: Module[Any]) -> nn.Module:
    """See ``minigrad.export.to_torch``; this is its implementation."""
    memo: dict[int, nn.Module] = {}

    def convert(module: Module[Any]) -> nn.Module:
        if id(module) not in memo:  # a shared module: one torch module for all its uses
            made = _converter(module, HOOK, TORCH_CONVERTERS, "to_torch")(convert)
            if not isinstance(made, nn.Module):
                raise TypeError(f"to_torch: the converter of {module!r} must return a "
                                f"torch.nn.Module, got {type(made).__name__}")
            made.training = module.training  # this module's own mode, not its children's
            memo[id(module)] = made
        return memo[id(module)]

    return convert(model)


def torch_dtype(dtype: np.dtype[Any]) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype)).dtype


# -- the modules minigrad's layers become ----------------------------------------------


class PrependOnes(nn.Module):
    """minigrad's `Bias`: ``x -> [1 | x]``, a column of ones before the last axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.new_ones((*x.shape[:-1], 1)), x], dim=-1)


class AddInputs(nn.Module):
    """minigrad's `Add`: the elementwise sum of its inputs (of one shape)."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total


class ConcatInputs(nn.Module):
    """minigrad's `Concat`: its inputs joined along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GraphModule(nn.Module):
    """minigrad's `Graph`: the nodes, registered under their names, run in order.

    Parameters
    ----------
    nodes : sequence of (name, module, sources)
        In execution order; ``sources`` name earlier nodes or ``"input"``.
    output : str
        The node whose value ``forward`` returns.
    """

    def __init__(self, nodes: Sequence[tuple[str, nn.Module, tuple[str, ...]]],
                 output: str) -> None:
        super().__init__()
        for name, module, _ in nodes:
            if hasattr(self, name) and name not in self._modules:
                raise ValueError(f"to_torch: the Graph node name {name!r} is taken by an "
                                 "attribute of torch.nn.Module; rename the node")
            self.add_module(name, module)
        # The modules again, in a plain list: registered once above, read here in order.
        self.plan = list(nodes)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {INPUT: x}
        for name, module, sources in self.plan:
            values[name] = module(*[values[source] for source in sources])
        return values[self.output]


# -- the built-in layers ----------------------------------------------------------------


T = TypeVar("T", bound=nn.Module)


def made_as(make: Callable[[], T], state: Mapping[str, Array]) -> T:
    """``make()`` built on the meta device -- no random initialization to overwrite, nor
    torch's global RNG consumed -- then given real memory holding ``state`` (its
    complete state_dict, as arrays, copied)."""
    with torch.device("meta"):
        module = make()
    module = module.to_empty(device="cpu")
    module.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in
                            state.items()}, strict=True)
    return module


def same_state(layer: Module[Any], state: dict[str, Array]) -> dict[str, Array]:
    """The state of a layer whose torch module has its keys and layouts."""
    return dict(state)


def _dense_state(layer: Dense, state: dict[str, Array]) -> dict[str, Array]:
    return {**state, "weight": state["weight"].T}  # (out, in) back to minigrad's (in, out)


@register_torch(Dense, state=_dense_state)
def _dense(layer: Dense, convert: Convert) -> nn.Module:
    state = {**layer.state_dict(), "weight": layer.weight.data.T}  # PyTorch's (out, in)
    return made_as(lambda: nn.Linear(layer.in_features, layer.out_features,
                                     bias=layer.bias is not None,
                                     dtype=torch_dtype(layer.weight.dtype)), state)


def _simple(make: Callable[[Any], nn.Module]) -> Callable[[Any, Convert], nn.Module]:
    return lambda layer, convert: make(layer)


_SIMPLE: list[tuple[type[Module[Any]], Callable[[Any], nn.Module]]] = [
    (Bias, lambda layer: PrependOnes()),
    (Identity, lambda layer: nn.Identity()),
    (Dropout, lambda layer: nn.Dropout(layer.p)),
    (Add, lambda layer: AddInputs()),
    (Concat, lambda layer: ConcatInputs(layer.axis)),
]
for _type, _make in _SIMPLE:
    TORCH_CONVERTERS[_type] = _simple(_make)


@register_torch(Sequential)
def _sequential(model: Sequential, convert: Convert) -> nn.Module:
    return nn.Sequential(*[convert(layer) for layer in model.layers])


@register_torch(Graph)
def _graph(model: Graph, convert: Convert) -> nn.Module:
    return GraphModule([(name, convert(layer), model.inputs[name])
                        for name, layer in model.nodes.items()], model.output)


# -- PyTorch state back into minigrad ---------------------------------------------------


def _uses(module: Module[Any], prefix: str = "") -> Iterator[tuple[str, Module[Any]]]:
    """Every use of a non-container module, under the prefix of its PyTorch state keys
    (a shared one once per path, first where `Module.named_parameters` names it)."""
    if type(module) in CONTAINERS:
        for name, child in module.named_children():
            yield from _uses(child, f"{prefix}{name}.")
    else:
        yield prefix, module


def _as_array(value: object) -> Array:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def load_torch_state_dict(model: Module[Any], state_dict: Mapping[str, Any]) -> None:
    """See ``minigrad.export.load_torch_state_dict``; this is its implementation."""
    what = "load_torch_state_dict"
    expected = {key: _as_array(value) for key, value in to_torch(model).state_dict().items()}
    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    if missing or unexpected:
        raise KeyError(f"{what}: missing keys {name_list(missing)}, "
                       f"unexpected keys {name_list(unexpected)}")
    given: dict[str, Array] = {}
    for key, reference in expected.items():
        value = _as_array(state_dict[key])
        if value.shape != reference.shape or value.dtype != reference.dtype:
            raise ValueError(
                f"{what}: {key!r} has shape {value.shape} and dtype {value.dtype}; the model "
                f"takes shape {reference.shape} and dtype {reference.dtype} (PyTorch layout)"
            )
        check_finite_state(what, repr(key), value)  # named by its PyTorch key
        given[key] = value

    converted: dict[str, Array] = {}
    first_use: dict[int, tuple[str, dict[str, Array]]] = {}
    for prefix, layer in _uses(model):
        local = {key[len(prefix):]: value for key, value in given.items()
                 if key.startswith(prefix)}
        if id(layer) in first_use:  # PyTorch lists a shared module under each of its uses
            first, values = first_use[id(layer)]
            for key, value in local.items():
                if not np.array_equal(value, values[key]):
                    raise ValueError(f"{what}: {prefix + key!r} and {first + key!r} are one "
                                     f"shared weight of {layer!r} but hold different values")
            continue
        first_use[id(layer)] = (prefix, local)
        if not local:
            continue
        own = _converter(layer, STATE_HOOK, TORCH_STATE_CONVERTERS, what)(local)
        converted.update((prefix + key, value) for key, value in own.items())
    # Module.load_state_dict checks keys, shapes and dtypes again before writing anything.
    model.load_state_dict(converted)

