"""Parameter groups: what an optimizer takes (`ParamsLike`), its groups (`ParamGroup`)
and its hyperparameters read and set as attributes (`Hyperparameter`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from typing_extensions import Self

from minigrad.core import Parameter, name_list
from minigrad.core import check_bool as check_bool  # the optimizers' flags: one rule library-wide

if TYPE_CHECKING:
    from minigrad.optim.optimizer import Optimizer

T = TypeVar("T")

ParamsLike = Iterable[Parameter] | Iterable[Mapping[str, Any]]
"""What an optimizer takes: parameters (one group) or dicts ``{"params": [...], ...}``."""


class Hyperparameter(Generic[T]):
    """An optimizer setting read and assigned as an attribute (``opt.lr = 0.01``).

    Assigning sets it in *every* parameter group, validated by the constructor's rules
    first (a bad value raises `ValueError` and changes nothing), and allocates any
    state it needs (``opt.momentum = 0.9`` on a plain SGD creates the momentum buffers).
    Reading gives the value the groups share; when they differ it raises `ValueError`
    (read ``opt.param_groups[i][name]`` instead).
    """

    def __set_name__(self, owner: type[Optimizer], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, optimizer: None, owner: type[Optimizer]) -> Self: ...
    @overload
    def __get__(self, optimizer: Optimizer, owner: type[Optimizer]) -> T: ...
    def __get__(self, optimizer: Optimizer | None, owner: type[Optimizer]) -> T | Self:
        if optimizer is None:
            return self
        values = [group.hyper[self.name] for group in optimizer.param_groups]
        if any(value != values[0] for value in values[1:]):
            raise ValueError(
                f"{type(optimizer).__name__}: its parameter groups have different "
                f"{self.name} values {values}; read opt.param_groups[i][{self.name!r}]"
            )
        value: T = values[0]
        return value

    def __set__(self, optimizer: Optimizer, value: T) -> None:
        optimizer.set_hyperparameters({self.name: value})


_GROUP_ATTRIBUTES = frozenset({"_optimizer", "params", "hyper", "initial_lr"})
"""What a `ParamGroup` holds as plain attributes; any other attribute name is a
hyperparameter's (validated) or refused."""


class ParamGroup(MutableMapping[str, Any]):
    """One parameter group: ``group["params"]`` and its hyperparameters by name.

    ``group["lr"] = 0.01`` -- or ``group.lr = 0.01``, the same -- is validated like the
    constructor's arguments (a bad value raises `ValueError` and changes nothing) and
    takes effect from the next step; the parameters and the set of keys are fixed.
    Reading ``group.lr`` gives ``group["lr"]``.

    Attributes
    ----------
    params : list of Parameter
    hyper : dict of str to value
        The validated hyperparameters (read-only by convention: assign through ``[]``).
    initial_lr : float or None
        The learning rate when the first scheduler was attached (set by that scheduler).

    Raises
    ------
    AttributeError
        Setting or reading an attribute that is neither one of these nor a
        hyperparameter (``group.lrr = 0.1``), naming the group's keys: a typo never
        becomes an attribute that nothing reads.
    """

    def __init__(self, optimizer: Optimizer, params: list[Parameter], hyper: dict[str, Any]):
        self._optimizer = optimizer
        self.params = params
        self.hyper = hyper
        self.initial_lr: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Intercepted because a hyperparameter is a key, not an attribute: without this,
        # `group.lr = nan` would set a new attribute that no step reads, silently.
        if name == "params" and "params" in vars(self):
            self["params"] = value  # refused, as the item write
        elif name in _GROUP_ATTRIBUTES:
            object.__setattr__(self, name, value)
        elif name in self.hyper:
            self[name] = value  # validated as an item write
        else:
            raise self._no_attribute(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when ordinary lookup fails. `vars(self)`, not `self.hyper`: while
        # copy or pickle rebuild a group, `hyper` is not set yet and reading it here
        # would recurse.
        hyper = vars(self).get("hyper")
        if name.startswith("__") or hyper is None or name not in hyper:
            raise self._no_attribute(name)
        return hyper[name]

    def _no_attribute(self, name: str) -> AttributeError:
        optimizer = vars(self).get("_optimizer")
        owner = "ParamGroup" if optimizer is None else f"{type(optimizer).__name__} param group"
        keys = ["params", *vars(self).get("hyper", {})]
        return AttributeError(f"{owner} has no attribute {name!r}; its keys are "
                              f"{name_list(keys)} (a hyperparameter is set as group[key] = "
                              "value or group.key = value)")

    def trainable(self) -> list[Parameter]:
        """The parameters a step updates: those with ``requires_grad`` (a frozen
        parameter -- ``requires_grad`` False -- gets no update, weight decay included,
        and its per-parameter state stays as it is). Every ``step`` iterates this."""
        return [param for param in self.params if param.requires_grad]

    def __getitem__(self, key: str) -> Any:
        return self.params if key == "params" else self.hyper[key]

    def __setitem__(self, key: str, value: Any) -> None:
        owner = type(self._optimizer).__name__
        if key == "params":
            raise TypeError(f"{owner}: a parameter group's params cannot be replaced")
        if key not in self.hyper:
            raise KeyError(f"{owner}: no hyperparameter {key!r}; it has {name_list(self.hyper)}")
        self._optimizer.set_hyperparameters({key: value}, groups=[self])

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{type(self._optimizer).__name__}: group keys cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(("params", *self.hyper))

    def __len__(self) -> int:
        return 1 + len(self.hyper)

    def __repr__(self) -> str:
        return f"ParamGroup({len(self.params)} params, {self.hyper})"


def group_specs(
    owner: str, params: ParamsLike
) -> list[tuple[list[Parameter], dict[str, Any]]]:
    """``params`` as (parameters, hyperparameter overrides) per group, type-checked."""
    if isinstance(params, Parameter):
        raise TypeError(f"{owner}: params must be an iterable of Parameters, got one Parameter")
    items: list[object] = list(params)
    if not items:
        raise ValueError(f"{owner}: got an empty parameter list")
    raw: list[tuple[object, dict[str, Any]]]
    if all(isinstance(item, Mapping) for item in items):
        raw = []
        for index, item in enumerate(items):
            spec = dict(cast("Mapping[str, Any]", item))  # checked just above
            if "params" not in spec:
                raise ValueError(f"{owner}: param group {index} has no 'params' key")
            raw.append((spec.pop("params"), spec))
    else:
        raw = [(items, {})]
    specs = []
    for g, (group_params, overrides) in enumerate(raw):
        if isinstance(group_params, Parameter):
            group_params = [group_params]
        listed = list(group_params)  # type: ignore[call-overload]  # checked below
        where = "params" if len(raw) == 1 else f"param group {g}: params"
        for index, param in enumerate(listed):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{owner}: {where}[{index}] is a {type(param).__name__}, not a Parameter"
                )
        specs.append((listed, overrides))
    return specs
