"""`Module`: the tree of parameters, buffers and children, modes, state, and weight sharing.

A *module* is anything that owns parameters or contains other modules; a *layer* is a
module with a hand-written ``forward``/``backward`` pair on one input; a *merge layer*
has such a pair on several inputs (returning one gradient per input). This file knows
nothing of any concrete layer, container, loss or optimizer.

Conventions kept by every built-in layer (and expected of yours):

* ``backward`` *accumulates* into ``Parameter.grad`` (``+=``) and returns the gradient
  with respect to the input (a merge layer: a tuple, one per input). It never mutates
  the incoming gradient or what forward kept, and callers never mutate what it returns
  (it may be the incoming gradient itself, or a view of it).
* ``forward`` keeps what ``backward`` needs on the instance: in ``self.cache`` (read
  back with `Module.saved`, which refuses a backward without a forward), in ordinary
  attributes (``self.x = x``), or inside the sub-layers it holds and calls. All three
  styles are correct, also when the layer is shared.

The sharing rule -- what persists and what is per use
------------------------------------------------------
One layer object may serve at several places (weight sharing): twice in a `Sequential`,
at several nodes of a `Graph`, inside a container that is itself used twice. Each use
gets the backward of *its own* forward, and the parameter gradients of all uses add up.
A container does it with `Module.stash` after each shared use's forward and
`Module.unstash` before that use's backward (positions that share nothing pay nothing).
What an instance holds divides into:

* **Persistent** -- one for all uses, never stashed or restored: its `Parameter` and
  `Buffer` objects (a running statistic or a counter belongs in a `Buffer`: update it in
  place or assign ``buffer.data``, and every use sees the latest value), its child
  modules, also in lists, tuples and dicts (their own state is stashed in turn), and
  the ``training`` flag.
* **Per use** -- *everything else the instance holds*: ``self.cache``, ``self.x``, any
  attribute forward assigns. `stash` takes a shallow copy of these attributes, copying a
  list, dict or set held directly one level deeper (so a cache built with
  ``self.xs.append(x)`` is per use as well); `unstash` assigns them back and deletes
  those set since. Being per use, a Python counter or a log list kept on a layer is
  rolled back by `unstash` too: keep such things in a `Buffer`, or outside the layer.

Refused (`mg.testing.check_layer` fails it, in its stash/unstash check): a forward that
writes *in place* into an array or object it kept from an earlier call (``self.buf[...]
= x``). The stash holds the same array, so an earlier use's backward would see the later
use's values; assign a new array in each forward instead. A layer that calls one
sub-layer twice in its own forward must stash that sub-layer between the two uses
itself (``s = self.fc.stash()`` ... ``self.fc.unstash(s)``), as the containers do.

A backward frees what its forward kept: containers call `Module.release` on each
layer once its backward has run, which forgets ``self.cache`` (not other attributes) in
it and its sub-modules, so a second backward through the same forward raises, as in
PyTorch -- unless run inside `minigrad.retain_graph`. `Module.clear_cache` forgets
``self.cache`` (and the containers' stashes) whether or not a backward ran.
"""

from __future__ import annotations

import types
from abc import ABC
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Generic

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, TypeVar

from minigrad import backend
from minigrad.core.parameter import Array, Buffer, Parameter, check_parameter_dtype
from minigrad.core.state import checked_state
from minigrad.core.tree import (
    _CACHE_PLAIN,
    _PLAIN,
    changes_structure,
    members_changed,
    plain_attribute,
    raise_unsaved,
    release_tree,
    retaining,
    tree_of,
)
from minigrad.core.walk import expand, first_paths

CacheT = TypeVar("CacheT", default=Array)
"""What a layer's ``forward`` leaves in ``self.cache`` for its ``backward``.

A bare ``class Double(mg.Layer)`` caches one array -- the most common cache (an input
or an output), so `Module.saved` then returns an `Array`, exact under ``mypy --strict``.
Anything else is named: ``mg.Layer[tuple[Array, Array]]``, ``mg.Layer[None]``.
(``Any`` would accept everything but leak it: ``return g * self.saved()`` would
be "returning Any" to a strict checker.)"""

_Member = TypeVar("_Member", Parameter, Buffer)
"""What the tree walks collect: parameters or buffers."""


class Module(ABC, Generic[CacheT]):
    """Common machinery of layers and containers.

    Parameters are discovered, not registered: any attribute holding a `Parameter`
    is one of this module's parameters, any attribute holding a `Module` is a child
    (containers override `named_children`). Nothing is intercepted in ``__setattr__``.

    Attributes
    ----------
    training : bool
        Training mode (the default) or evaluation mode; see `train` and `eval`.
    cache : CacheT or None
        What the latest ``forward`` saved for ``backward``; None before any forward.
        (A layer may keep its state in other attributes too: the sharing rule in
        `minigrad.core.module` says what `stash` covers.)
    releases_in_backward : bool
        True where ``backward`` itself releases what the forward kept (the containers).
    """

    # Class-level defaults, so a subclass that forgets ``super().__init__()`` still works.
    training: bool = True
    cache: CacheT | None = None
    _released: bool = False  # the cache was let go of by `release`, not never set
    _shared_uses: tuple[Any, ...] = ()  # a container's `SharedUse`s: `release` empties their slots
    releases_in_backward: ClassVar[bool] = False
    _cache_in_dict: ClassVar[bool] = True  # ``cache`` is no property (`plain_attribute`)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._cache_in_dict = plain_attribute(cls, "cache")

    if not TYPE_CHECKING:  # hidden from type checkers, which would then allow any name
        def __setattr__(self, name: str, value: object) -> None:
            # Assigning a member, or over one, changes the tree (`minigrad.core.tree`);
            # the common case (an array, a number, a cache's tuple) decided inline, and a
            # forward's cache written straight into the dict: a third cheaper than `_set`.
            state = self.__dict__
            old = state.get(name)
            plain = _CACHE_PLAIN if name == "cache" else _PLAIN
            if type(value) in plain and type(old) in plain:
                if plain is _CACHE_PLAIN and self._cache_in_dict:
                    state[name] = value
                    return
            elif changes_structure(name, value, _MEMBERS) or changes_structure(name, old, _MEMBERS):
                members_changed(self, name, value)
            _set(self, name, value)

        def __delattr__(self, name: str) -> None:
            if changes_structure(name, self.__dict__.get(name), _MEMBERS):
                members_changed(self, name, None)
            object.__delattr__(self, name)

    # -- the tree -------------------------------------------------------------------
    def named_members(self) -> Iterator[tuple[str, object]]:
        """Attributes by name, with lists, tuples and dicts of them expanded
        (``self.blocks = [Dense(...), Dense(...)]`` gives ``blocks.0``, ``blocks.1``).

        The ``cache`` is not a member: it holds what a forward saved for backward, not
        the tree, and expanding its tuples on every walk (each ``zero_grad``) cost more
        than zeroing the gradients (29 µs → 4 µs for a `Conv2D`).
        """
        for name, value in vars(self).items():
            if isinstance(value, (list, tuple, dict)):
                if name != "cache":
                    yield from expand(name, value)
            else:  # the common case, without a generator call
                yield name, value

    def named_children(self) -> Iterator[tuple[str, Module[Any]]]:
        """Direct sub-modules with their names (attribute paths by default)."""
        for name, value in self.named_members():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter in the tree, under its dotted path, each object once.

        A parameter reachable along several paths (a shared layer) is reported under
        the first path met, so optimizers and `state_dict` see it exactly once.
        """
        return first_paths(self._walk_parameters(""))

    def _walk_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        # Through each child's own _walk_parameters: `Sequential` overrides it.
        yield from self._own_members(prefix, Parameter)
        for name, child in self.named_children():
            yield from child._walk_parameters(f"{prefix}{name}.")

    def parameters(self) -> list[Parameter]:
        """The trainable parameters of this module and all its descendants."""
        return [param for _, param in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Buffer]]:
        """Every `Buffer` in the tree, under its dotted path, each object once (the
        first path met, as for `named_parameters`)."""
        return first_paths(self._walk_buffers(""))

    def _walk_buffers(self, prefix: str) -> Iterator[tuple[str, Buffer]]:
        yield from self._own_members(prefix, Buffer)
        for name, child in self.named_children():
            yield from child._walk_buffers(f"{prefix}{name}.")

    def _own_members(self, prefix: str, kind: type[_Member]) -> Iterator[tuple[str, _Member]]:
        """This module's own attributes of type ``kind``, under ``prefix + name``."""
        for name, value in self.named_members():
            if isinstance(value, kind):
                yield prefix + name, value

    def buffers(self) -> list[Buffer]:
        """The buffers (non-trainable state) of this module and all its descendants."""
        return [buffer for _, buffer in self.named_buffers()]

    def modules(self) -> Iterator[Module[Any]]:
        """This module and every descendant, depth first (a shared one once per path)."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def zero_grad(self) -> None:
        """Zero the gradient of every parameter in the tree (lazily, see `Parameter`)."""
        for param in self.parameters():
            param.zero_grad()

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of parameter scalars in the tree: ``Σ_p p.size`` over
        `parameters` (a shared parameter counted once; buffers are not parameters).

        With ``trainable_only``, only the parameters with ``requires_grad`` count
        (PyTorch's ``sum(p.numel() for p in m.parameters() if p.requires_grad)``).
        """
        return sum(param.size for param in self.parameters()
                   if param.requires_grad or not trainable_only)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Set ``requires_grad`` on every parameter in the tree and return this module
        (PyTorch's name): ``model.fc.requires_grad_(False)`` freezes ``fc``.

        A frozen parameter gets no gradient accumulated by backward and no update
        from any optimizer (weight decay included); the gradient with respect to
        the input still flows through it. `state_dict`, saving and loading keep
        frozen parameters like the others.

        Raises
        ------
        TypeError
            ``requires_grad`` is not a bool.
        """
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.requires_grad_: requires_grad must be "
                            f"a bool, got {requires_grad!r}")
        for param in self.parameters():
            param.requires_grad = bool(requires_grad)
        return self

    # -- array library --------------------------------------------------------------
    def to(self, library: types.ModuleType | npt.DTypeLike | None = None,
           device: object = None, *, dtype: npt.DTypeLike | None = None) -> Self:
        """Move every parameter, its gradient and every buffer to the array library
        ``library`` -- the module ``numpy``, ``torch``, ``cupy`` or ``array_api_strict``
        -- on ``device`` (``"cuda"``, ``"cuda:1"``; by default the library's), and/or
        convert them to ``dtype``; return this module. ``model.to(numpy)`` brings it home.

        ``model.to(np.float32)`` (or ``to(dtype=np.float32)``, also with a library)
        converts the parameters, their gradients and the *floating* buffers, in their
        library and on their device; integer buffers (counters) keep their dtype, and a
        module's own ``dtype`` attribute (a layer without parameters) follows. Back to
        float64, each value is its float32 rounding.

        The moved model takes and returns that library's arrays (that dtype's); a
        batch of another library or device is refused (`TypeError`), never copied
        behind your back. Caches of earlier forwards are cleared. Create the optimizer
        after moving or converting the model: its state lives where, and in the dtype,
        the parameters had when it was made (a later step raises `TypeError`).

        Raises
        ------
        TypeError
            ``library`` is neither an array library minigrad can compute with nor a
            dtype; ``dtype`` is not float32 or wider (float16 is refused, see
            `check_parameter_dtype`); the dtype given twice; neither given; ``device``
            without ``library``.
        """
        owner = f"{type(self).__name__}.to"
        if library is not None and not isinstance(library, types.ModuleType):
            if dtype is not None:
                raise TypeError(f"{owner}: the dtype is given twice ({library!r}, {dtype!r})")
            library, dtype = None, library
        if library is None and (dtype is None or device is not None):
            raise TypeError(f"{owner}: expected an array library module (numpy, torch, cupy, "
                            f"array_api_strict) and/or dtype=, got {library!r}, "
                            f"device={device!r}, dtype={dtype!r}")
        resolved = None if dtype is None else check_parameter_dtype(owner, dtype)
        xp = None if library is None else backend.resolve(library)
        for member in [*self.parameters(), *self.buffers()]:
            if xp is not None:
                member.to(xp, device)
            if resolved is not None:
                member.cast(resolved)
        for module in self.modules() if resolved is not None else ():
            if isinstance(vars(module).get("dtype"), np.dtype):
                module.dtype = resolved  # type: ignore[attr-defined]
        self.clear_cache()
        return self

    # -- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        """Put this module and all its descendants in training mode (or eval if False)."""
        for module in tree_of(self).modules:
            _set(module, "training", mode)  # a bool: never a member
        return self

    def eval(self) -> Self:
        """Put this module and all its descendants in evaluation mode."""
        return self.train(False)

    @contextmanager
    def mode(self, training: bool) -> Iterator[None]:
        """Training (or evaluation) mode for a ``with`` block only.

        Afterwards every module gets back the exact mode it had, so a sub-module
        deliberately left in evaluation mode stays there.
        """
        modules = tree_of(self).modules  # cached: no walk of the tree per call
        saved = [module.training for module in modules]
        if saved.count(training) != len(saved):  # some module is in the other mode
            for module in modules:
                _set(module, "training", training)
        try:
            yield
        finally:
            for module, mode in zip(modules, saved):
                if module.training != mode:
                    _set(module, "training", mode)

    # -- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Array]:
        """A copy of every parameter's and buffer's values, keyed by dotted path
        (``"1.weight"``, ``"2.running_mean"``)."""
        state = {name: backend.to_numpy(param.data) for name, param in self.named_parameters()}
        state.update((name, backend.to_numpy(buffer.data)) for name, buffer in self.named_buffers())
        return state

    def load_state_dict(
        self, state: Mapping[str, npt.ArrayLike], strict: bool = True
    ) -> tuple[list[str], list[str]]:
        """Copy values from ``state`` into the parameters and buffers, in place.

        Everything is checked before anything is written (`check_state_dict`), so on
        error the module is unchanged. With ``strict`` (the default) missing and
        unexpected keys are errors; a shape or dtype mismatch, and NaN or ±inf in a
        floating value, always are.

        Returns
        -------
        missing_keys, unexpected_keys : list of str
            What was not loaded (both empty in strict mode), as PyTorch reports them.

        Raises
        ------
        KeyError
            A missing or unexpected key (strict mode), naming it.
        ValueError
            A shape or dtype mismatch, or a non-finite value, naming the key.
        """
        missing, unexpected, write = checked_state(self, state, strict)
        write()
        return missing, unexpected

    def check_state_dict(
        self, state: Mapping[str, npt.ArrayLike], strict: bool = True
    ) -> Callable[[], None]:
        """Check ``state`` as `load_state_dict` does, changing nothing, and return the
        function that then writes it (which cannot fail).

        What loads several objects all or nothing (``load_checkpoint``) checks each
        before writing any. Raises as `load_state_dict`.
        """
        return checked_state(self, state, strict)[2]

    # -- per-use cache (weight sharing, release) -------------------------------------
    def saved(self) -> CacheT:
        """The cache of the latest ``forward``.

        Raises
        ------
        RuntimeError
            If there has been no ``forward`` since the module was made or its cache was
            last cleared (`clear_cache`, which `to`, the end of ``fit`` and the
            exporters call): ``"backward() called before forward()"``, naming the
            module and what clears a cache. If a backward has released it (`release`,
            which containers call after each layer's backward): ``"backward through
            the same forward a second time"``, naming `minigrad.retain_graph`.
        """
        cache = self.cache
        if cache is None:
            raise_unsaved(self)
        return cache

    def release(self) -> None:
        """Let go of ``self.cache`` in this module and its descendants (and of each use's
        state in their containers' stash slots) once its backward has run: `Sequential`
        and `Graph` call it on each layer after its backward, `fit` on the model after the
        step. A later `saved` raises, as PyTorch refuses a backward through a freed graph;
        inside `minigrad.retain_graph` it does nothing. Other attributes stay."""
        if not retaining():
            release_tree(self)

    def clear_cache(self) -> None:
        """Forget the latest forward's ``self.cache`` in this module and its descendants
        (frees memory; a later ``backward`` raises). Other attributes are left alone."""
        self.cache = None
        self._released = False
        for _, child in self.named_children():
            child.clear_cache()

    def stash(self) -> object:
        """A snapshot of the per-use state of this module and its descendants, for
        `unstash` to restore.

        Everything each module holds except its members -- `Parameter`, `Buffer` and
        child modules, also in lists, tuples and dicts -- and its ``training`` flag (see
        the sharing rule in `minigrad.core.module`): a shallow copy, with lists, dicts and
        sets copied one level; one dict per module of the tree, each module once. Cheap:
        no array is copied, and the tree is not walked (`minigrad.core.tree`).
        """
        return tree_of(self).stash()

    def unstash(self, stashed: object) -> None:
        """Restore what `stash` returned, so ``backward`` sees that forward again.

        Exactly: per-use attributes set since the stash are deleted again. ``None``
        (a container's slot for a use that has not run) means `clear_cache`. The stash
        itself is not adopted: restoring it twice gives the same state twice.

        Raises
        ------
        RuntimeError
            The tree's modules changed since the stash was taken.
        """
        if stashed is None:
            self.clear_cache()
            return
        tree_of(self).restore(stashed, self)

    # -- display --------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


_MEMBERS = (Parameter, Buffer, Module)
_set = object.__setattr__  # an assignment known not to change the tree
"""What makes an attribute part of the tree rather than per-use state."""
