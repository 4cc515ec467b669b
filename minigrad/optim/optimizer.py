"""`Optimizer`, the base of every optimizer: parameter groups, hyperparameters,
per-parameter state (`state_dict`), allocation-free scratch space and the in-place
update kernels of each parameter's array library (`minigrad.backend.UpdateKernels`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, Parameter, check_finite_state, name_list
from minigrad.optim.groups import Hyperparameter, ParamGroup, ParamsLike, group_specs


class Optimizer(ABC):
    """Base: parameter groups, hyperparameters, per-parameter state and scratch space.

    Writing an optimizer takes four things, as ``torch.optim`` does:

    * ``__init__`` calls ``super().__init__(params, defaults)`` with the default
      hyperparameters (a dict, e.g. ``{"lr": lr, "momentum": momentum}``);
    * `validate_hyperparameters` checks one group's hyperparameters and returns them
      normalized (floats, bools, tuples), raising `ValueError` naming the first bad one
      (`TypeError` for a flag not a bool);
    * `state_names` names the per-parameter arrays a group's hyperparameters need
      (created by `initial_state`, zeros unless overridden);
    * `step` updates each group's parameters, reading ``group.hyper`` and
      ``self.state[param]``; `workspace` gives the in-place updates of the
      parameter's array library and a temporary, `scratch` more temporaries, so one
      allocation-free rule runs on NumPy, PyTorch and any Array API library.

    `state_dict`, `load_state_dict`, parameter groups and `Hyperparameter` attributes
    then work unchanged; states named in `non_negative_state` (second moments) are
    refused by `load_state_dict` when negative.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict
        What to train, each once (e.g. ``model.parameters()``); or groups
        ``{"params": [...], **hyperparameters}`` overriding ``defaults``.
    defaults : mapping of str to value
        The hyperparameters of groups that do not set them.

    Attributes
    ----------
    params : list of Parameter
        Every parameter, group by group; ``state_dict`` indexes them in this order.
    param_groups : list of ParamGroup
    defaults : dict
        The validated defaults.
    steps : int
        Number of `step` calls so far (bias corrections use it).
    state : dict of Parameter to dict of str to array
        Per-parameter arrays by name, each shaped like its parameter and in its
        library and device, as PyTorch's ``optimizer.state[param]["exp_avg"]``.

    Notes
    -----
    Create the optimizer after ``model.to(...)``: its state and scratch live where the
    parameters were when it was made, and `workspace` (so `step`) refuses a parameter
    that has moved to another library since (`TypeError`). `state_dict` is NumPy
    whatever the library, so a state saved from a torch-backed model loads into a
    NumPy one and back.

    Raises
    ------
    ValueError
        An empty ``params`` or group, a parameter listed twice, a group key that is
        not a hyperparameter, or a hyperparameter out of range.
    TypeError
        An item of ``params`` that is not a `Parameter` (or a group that is not a dict).
    """

    lr = Hyperparameter[float]()
    non_negative_state: ClassVar[frozenset[str]] = frozenset()
    """State names whose arrays must be >= 0 (checked by `load_state_dict`)."""
    added_hyperparameters: ClassVar[Mapping[str, Any]] = {}
    """Hyperparameters added since states were first saved, with the value they had
    before: `load_state_dict` gives it to a state saved without them."""

    def __init__(self, params: ParamsLike, defaults: Mapping[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = self.validate_hyperparameters(defaults)
        specs = group_specs(name, params)
        self.params = [param for group_params, _ in specs for param in group_params]
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for index, param in enumerate(self.params):
            if id(param) in seen:
                raise ValueError(f"{name}: params[{index}] ({param.name!r}) appears twice")
            seen.add(id(param))
        self.steps = 0
        self.state: dict[Parameter, dict[str, Array]] = {}
        self.param_groups: list[ParamGroup] = []
        for index, (group_params, overrides) in enumerate(specs):
            unknown = sorted(overrides.keys() - self.defaults.keys())
            if unknown:
                raise ValueError(
                    f"{name}: param group {index} has keys {name_list(unknown)} that are "
                    f"not hyperparameters of {name} ({name_list(self.defaults)})"
                )
            hyper = self._validated_group(index, {**self.defaults, **overrides}, len(specs))
            group = ParamGroup(self, group_params, hyper)
            self.param_groups.append(group)
            self._allocate(group)
        # Scratch buffers, per place (library, device, dtype) and slot, as large as the
        # largest parameter there: an update such as `data -= lr * grad` is done as two
        # in-place ufuncs through a view of one, so a step allocates nothing
        # parameter-sized.
        self._places = {param: _place(param.data) for param in self.params}
        self._sizes: dict[tuple[type, object, object], int] = {}
        for param, place in self._places.items():
            self._sizes[place] = max(param.size, self._sizes.get(place, 0))
        self._scratch: dict[tuple[tuple[type, object, object], int], Array] = {}
        self._views: dict[tuple[Parameter, int], Array] = {}  # scratch views by (param, slot)
        # Per parameter: the array type it had when this optimizer was made (where its
        # state lives), that library's kernels and scratch slot 0 -- one lookup a step.
        self._workspaces: dict[Parameter, tuple[type, object, backend.UpdateKernels, Array]] = {}

    # -- the extension points ------------------------------------------------------------
    @abstractmethod
    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """One group's ``hyper`` checked by the constructor's rules and normalized
        (floats, bools, tuples); `ValueError` naming the first bad one (`TypeError`
        for a flag not a bool)."""

    def state_names(self, hyper: Mapping[str, Any]) -> tuple[str, ...]:
        """Names of the per-parameter arrays a group with these (validated)
        hyperparameters needs; none by default."""
        return ()

    def initial_state(self, name: str, param: Parameter, hyper: Mapping[str, Any]) -> Array:
        """The starting value of state ``name`` for ``param``: zeros by default, in
        ``param``'s library and device."""
        zeros: Array = backend.namespace(param.data).zeros_like(param.data)
        return zeros

    @abstractmethod
    def step(self) -> None:
        """Update every parameter from its gradient, in place."""

    def scratch(self, param: Parameter, slot: int = 0) -> Array:
        """A reusable temporary shaped like ``param`` (contents undefined).

        Different slots are different memory; each is allocated on first use.
        """
        view = self._views.get((param, slot))  # memoized: a step asks for it every time
        if view is None:
            place = self._places[param]
            buffer = self._scratch.get((place, slot))
            if buffer is None:
                buffer = self._scratch[place, slot] = backend.empty_like_shape(
                    param.data, (self._sizes[place],))
            view = self._views[param, slot] = backend.reshape(buffer[: param.size], param.shape)
        return view

    def workspace(self, param: Parameter) -> tuple[backend.UpdateKernels, Array]:
        """The in-place update kernels of ``param``'s array library (see
        `minigrad.backend.UpdateKernels`) and ``scratch(param)``, for `step`.

        Raises
        ------
        TypeError
            ``param`` was moved to another array library, or converted to another
            dtype, after this optimizer was created (its state and scratch are still
            in the old one).
        """
        found = self._workspaces.get(param)
        data = param.data
        if found is not None and type(data) is found[0] and data.dtype == found[1]:  # hot path
            return found[2], found[3]
        kind, _, dtype = self._places[param]
        if type(param.data) is not kind:
            raise TypeError(
                f"{type(self).__name__}: parameter {param.name!r} is now a "
                f"{backend.describe(param.data)}, but this optimizer's state was made for "
                f"{kind.__module__.split('.')[0]}.{kind.__name__} parameters: the model was "
                "moved after the optimizer was created; create the optimizer after "
                "model.to(...)"
            )
        if data.dtype != dtype:
            raise TypeError(
                f"{type(self).__name__}: parameter {param.name!r} is now {data.dtype}, but "
                f"this optimizer's state was made for {dtype}: the model was converted "
                "after the optimizer was created; create the optimizer after model.to(...)"
            )
        kernels, tmp = backend.update_kernels(param.data), self.scratch(param)
        self._workspaces[param] = (kind, dtype, kernels, tmp)
        return kernels, tmp

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (lazily: see `Parameter`)."""
        for param in self.params:
            param.zero_grad()

    # -- hyperparameters -----------------------------------------------------------------
    def _validated_group(self, index: int, hyper: Mapping[str, Any], count: int) -> dict[str, Any]:
        try:
            return self.validate_hyperparameters(hyper)
        except (ValueError, TypeError) as exc:  # a bad value, or a non-bool flag
            if count == 1:
                raise
            raise type(exc)(f"{exc} (param group {index})") from None

    def _allocate(self, group: ParamGroup) -> None:
        """Give each of ``group``'s parameters exactly the state its hyperparameters
        need: existing arrays are kept, new ones start at `initial_state`."""
        names = self.state_names(group.hyper)
        for param in group.params:
            old = self.state.get(param, {})
            self.state[param] = {
                name: old[name] if name in old else self.initial_state(name, param, group.hyper)
                for name in names
            }

    def set_hyperparameters(
        self, values: Mapping[str, Any], groups: Iterable[ParamGroup] | None = None
    ) -> None:
        """Set ``values`` in ``groups`` (default: all), all validated before any is set."""
        targets = list(self.param_groups if groups is None else groups)
        validated = [
            self._validated_group(self.param_groups.index(group), {**group.hyper, **values},
                                  len(self.param_groups))
            for group in targets
        ]
        for group, hyper in zip(targets, validated):
            group.hyper = hyper
            self._allocate(group)

    def hyperparameters(self) -> dict[str, Any]:
        """The first parameter group's hyperparameters by name, e.g. ``{"lr": 0.1, ...}``."""
        return dict(self.param_groups[0].hyper)

    # -- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Array]:
        """A copy of the full state as a flat mapping of names to arrays.

        Keys: ``"optimizer"`` (the class name, a 0-d string array), ``"step"`` (0-d
        int64); per group ``g``, ``"param_groups.{g}.params"`` (the int64 indices of
        its parameters in ``params``) and ``"param_groups.{g}.{name}"`` for each
        hyperparameter (0-d float64 or bool; ``betas`` has shape (2,)); and
        ``"state.{i}.{name}"`` for the per-parameter arrays, ``i`` indexing ``params``.
        Every value is an ndarray without Python objects (NumPy, whatever library the
        parameters are in), so the dict can go straight into ``np.savez`` and be read
        back with ``allow_pickle=False``.
        """
        state: dict[str, Array] = {
            "optimizer": np.array(type(self).__name__),
            "step": np.array(self.steps, dtype=np.int64),
        }
        position = {id(param): index for index, param in enumerate(self.params)}
        for g, group in enumerate(self.param_groups):
            state[f"param_groups.{g}.params"] = np.array(
                [position[id(param)] for param in group.params], dtype=np.int64
            )
            for name, value in group.hyper.items():
                state[f"param_groups.{g}.{name}"] = np.array(value)
        for index, param in enumerate(self.params):
            for name, array in self.state[param].items():
                state[f"state.{index}.{name}"] = backend.to_numpy(array)
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Restore what `state_dict` returned (possibly via ``.npz``), in place, in the
        state's library and device.

        Everything is checked before anything is written, so on error the optimizer is
        unchanged: the optimizer type, the group layout, the keys, each array's shape
        and dtype (per-parameter arrays must match their parameter), that the arrays
        are finite (and >= 0 for `non_negative_state`), and the hyperparameters'
        values (the constructor's rules). Hyperparameters are restored too, as in
        PyTorch. A state saved before parameter groups existed (hyperparameters at the
        top level: ``"lr"``, ...) loads into a one-group optimizer, and one saved before
        a hyperparameter of `added_hyperparameters` existed takes its former value.

        Raises
        ------
        KeyError
            Missing or unexpected keys, naming them.
        ValueError
            Another optimizer's state, another group layout, or a shape, dtype or
            value that does not fit, naming the key.
        """
        self.check_state_dict(state)()

    def check_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> Callable[[], None]:
        """Check ``state`` as `load_state_dict` does, changing nothing, and return the
        function that then writes it (which cannot fail).

        What loads several objects all or nothing (``load_checkpoint``) checks each
        before writing any. Raises as `load_state_dict`.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        legacy = len(self.param_groups) == 1 and "param_groups.0.params" not in state

        def key(g: int, name: str) -> str:
            return name if legacy else f"param_groups.{g}.{name}"

        state = {**{key(g, name): np.array(value) for name, value in
                    self.added_hyperparameters.items() for g in range(len(self.param_groups))},
                 **state}
        missing = [k for k in ("optimizer", "step") if k not in state]
        missing += [key(g, name) for g, group in enumerate(self.param_groups)
                    for name in group.hyper if key(g, name) not in state]
        if missing:
            raise KeyError(f"{owner}: missing keys {name_list(missing)}")
        kind = np.asarray(state["optimizer"])
        if kind.shape != () or kind.dtype.kind != "U" or str(kind) != type(self).__name__:
            raise ValueError(
                f"{owner}: 'optimizer' is {kind.tolist()!r}, expected {type(self).__name__!r} "
                f"(this is not the state of a {type(self).__name__})"
            )
        position = {id(param): index for index, param in enumerate(self.params)}
        expected = {"optimizer", "step"}
        groups: list[dict[str, Any]] = []
        for g, group in enumerate(self.param_groups):
            if not legacy:
                layout = np.array([position[id(p)] for p in group.params], dtype=np.int64)
                expected.add(key(g, "params"))
                saved = state.get(key(g, "params"))
                if saved is None or not np.array_equal(np.asarray(saved), layout):
                    raise ValueError(
                        f"{owner}: param group {g} holds parameters {layout.tolist()}, the "
                        f"state's holds {None if saved is None else np.asarray(saved).tolist()}"
                    )
            loaded: dict[str, Any] = {}
            for name, current in group.hyper.items():
                expected.add(key(g, name))
                value = _checked(owner, key(g, name), state[key(g, name)], np.asarray(current))
                loaded[name] = tuple(value.tolist()) if value.ndim else value.item()
            try:
                groups.append(self._validated_group(g, loaded, len(self.param_groups)))
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{owner}: {exc}") from None
        arrays: dict[Parameter, dict[str, Array]] = {}
        for group, hyper in zip(self.param_groups, groups):
            for param in group.params:
                index = position[id(param)]
                arrays[param] = {}
                for name in self.state_names(hyper):
                    k = f"state.{index}.{name}"
                    expected.add(k)
                    if k in state:
                        arrays[param][name] = self._checked_state(owner, k, name, state[k], param)
        missing = sorted(expected - state.keys())
        unexpected = sorted(state.keys() - expected)
        if missing or unexpected:
            raise KeyError(f"{owner}: missing keys {name_list(missing)}, "
                           f"unexpected keys {name_list(unexpected)}")
        steps = _checked(owner, "step", state["step"], np.array(0, dtype=np.int64)).item()
        if steps < 0:
            raise ValueError(f"{owner}: 'step' must be >= 0, got {steps}")

        def write() -> None:
            for group, hyper in zip(self.param_groups, groups):
                group.hyper = hyper
                self._allocate(group)
            self.steps = int(steps)
            for param, values in arrays.items():
                for name, value in values.items():
                    backend.assign(self.state[param][name], value)

        return write

    def _checked_state(
        self, owner: str, key: str, name: str, value: npt.ArrayLike, param: Parameter
    ) -> Array:
        array = _checked(owner, key, value, param.data)
        check_finite_state(owner, repr(key), array)
        if name in self.non_negative_state and (array < 0).any():
            raise ValueError(
                f"{owner}: {key!r} has negative values (min {array.min()}), but it is a "
                "running mean of squares; it cannot be trained from"
            )
        return array

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters().items())
        groups = len(self.param_groups)
        extra = f", param_groups={groups} (first shown)" if groups > 1 else ""
        return f"{type(self).__name__}({settings}{extra})"


def decayed_grad(
    optimizer: Optimizer, kernels: backend.UpdateKernels, param: Parameter, decay: float,
    maximize: bool = False,
) -> Array:
    """``g + λ θ`` -- L2 weight decay through the gradient -- in ``optimizer``'s scratch
    slot 1 for ``param``, or ``g`` itself when ``λ = 0``; with ``maximize``, ``−g + λ θ``
    (PyTorch negates the gradient first)."""
    if not (decay or maximize):
        return param.grad
    grad = optimizer.scratch(param, 1)
    if not maximize:
        kernels.add_into(param.grad, param.data, alpha=decay, out=grad)
        return grad
    # −g + λθ formed as −(g − λθ): negating is exact, so the two are the same float.
    if decay:
        kernels.add_into(param.grad, param.data, alpha=-decay, out=grad)
    else:
        kernels.copy_(grad, param.grad)
    grad *= -1.0
    return grad


def _checked(owner: str, key: str, value: npt.ArrayLike, like: Array) -> Array:
    """``value`` as a NumPy array with ``like``'s shape and dtype (``like`` of any
    library), or ValueError naming ``key``."""
    array = backend.to_numpy(value) if backend.is_foreign(value) else np.asarray(value)
    shape, dtype = tuple(like.shape), backend.numpy_dtype(like.dtype)
    if array.shape != shape:
        raise ValueError(f"{owner}: {key!r} has shape {array.shape}, expected {shape}")
    if array.dtype != dtype:
        raise ValueError(f"{owner}: {key!r} has dtype {array.dtype}, expected {dtype}")
    return array


def _place(array: Any) -> tuple[type, object, object]:
    """Where ``array`` lives -- library (array type), device, dtype: arrays of one place
    can share scratch memory."""
    return type(array), backend.device(array), array.dtype
