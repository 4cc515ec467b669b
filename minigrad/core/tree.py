"""The flat view of a module tree that the per-call machinery walks, kept until the
structure changes; `Evaluation`, `predict`'s stash and evaluation mode in one pass; and
`retain_graph`, which keeps what forwards saved past a backward.

Every `predict` snapshots the tree and sets evaluation mode (`Evaluation`: what
`Module.stash` and `Module.mode` do, in one pass); every training step lets
each layer's cache go (`Module.release`). Walking the tree for each of them --
``named_children`` → ``named_members`` → an ``isinstance`` per attribute, lists expanded --
cost ~270 µs per `predict` of the 11-layer digits CNN at batch 1: about PyTorch's whole
forward. So a root's walk is done once and kept (a `Tree`): its modules, each once, and
each one's *persistent* attribute names (those `stash` leaves alone). It holds until the
structure changes, which is noticed in two ways:

* assigning or deleting an attribute of any module whose new or old value holds a
  *member* -- a `Parameter`, `Buffer` or `Module`, or a list, tuple or dict with one
  inside (`changes_structure`; `Module.__setattr__` asks) -- gives the structure a new
  token, so every tree is rebuilt at its next use (building a model does this too);
* a list or dict of members changed in place (``self.blocks.append(layer)``) is caught
  by comparing, at each use, the items of every such list and dict with the items they
  had when the tree was built (`Tree.valid`).

A module whose ``named_children`` reads something else than its attributes (a property
over a list it mutates, say) must call `structure_changed` after changing it.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import numpy as np

from minigrad.core.parameter import Buffer, Parameter
from minigrad.core.walk import expand

if TYPE_CHECKING:
    from minigrad.core.module import Module


class _Structure:
    token: object = object()
    """Replaced by `structure_changed`: a tree built under another token is stale. An
    object, not a counter, so a tree carried over by a copy or a pickle never matches."""


def structure_changed() -> None:
    """Mark every cached `Tree` stale (they are rebuilt at their next use)."""
    _Structure.token = object()


def members_changed(owner: Module[Any], name: str, value: object) -> None:
    """``owner``'s attribute ``name`` now holds ``value`` (None: deleted), which made or
    unmade members: every cached `Tree` is stale -- and a ``value`` that holds ``owner``
    itself is refused, since a module inside itself makes a tree without end.

    Raises
    ------
    ValueError
        ``owner`` is ``value``, or one of its descendants (a child's back-reference to
        its parent, say), naming the attribute and the way out: a `weakref.ref`.
    """
    from minigrad.core.module import Module  # they import each other

    # The ``cache`` is not expanded: its tuple holds no members (`changes_structure`).
    items = [value] if name == "cache" else [item for _, item in expand(name, value)]
    pending = [item for item in items if isinstance(item, Module)]
    seen: set[int] = set()
    while pending:  # the subtrees being assigned, each module once
        module = pending.pop()
        if module is owner:
            raise ValueError(
                f"{type(owner).__name__}.{name}: the {type(value).__name__} assigned holds "
                f"this {type(owner).__name__} itself, so it would be a member of its own "
                "subtree (a tree without end); to keep a reference to a parent or to "
                "itself, hold a weakref.ref(...) to it, which is no member")
        if id(module) not in seen:
            seen.add(id(module))
            try:
                children = [child for _, child in module.named_children()]
            except AttributeError:  # still in its __init__ (a container before its list
                continue  # of children): a cycle through it is refused when it is assigned
            pending.extend(children)
    structure_changed()


_PLAIN = frozenset({type(None), bool, int, float, str, np.ndarray})
"""The types of most attribute values: never a member, decided without an isinstance."""
_CACHE_PLAIN = _PLAIN | {tuple}
"""The same for a ``cache``, whose tuple is not expanded: never a member either."""


def holds_members(value: object, kinds: tuple[type, ...],
                  watched: list[tuple[Any, tuple[object, ...]]] | None = None) -> bool:
    """Is ``value`` of one of ``kinds``, or a list, tuple or dict (nested) holding one?
    Each list and dict holding one is appended to ``watched`` with its items."""
    if isinstance(value, (list, tuple)):
        items: tuple[object, ...] = tuple(value)
    elif isinstance(value, dict):
        items = tuple(value.values())
    else:
        return isinstance(value, kinds)
    found = False
    for item in items:  # all of them: every nested list is watched
        found = holds_members(item, kinds, watched) or found
    if found and watched is not None and not isinstance(value, tuple):
        watched.append((value, items))
    return found


def changes_structure(name: str, value: object, kinds: tuple[type, ...]) -> bool:
    """Does an attribute ``name`` holding ``value`` make (or, replaced, unmake) members?
    The ``cache`` is not expanded (`Module.named_members` does not expand it either)."""
    if type(value) in _PLAIN or (name == "cache" and type(value) is tuple):
        return False
    if name == "cache":
        return isinstance(value, kinds)
    return holds_members(value, kinds)


def _items(container: Any) -> tuple[object, ...]:
    return tuple(container.values() if isinstance(container, dict) else container)


class Tree:
    """A root's modules, each once, in `Module.modules` order (the root first), with the
    names of each one's persistent attributes: members, and ``training``."""

    __slots__ = ("descendants", "memo", "persistent", "root", "token", "watched")

    def __init__(self, root: Module[Any]) -> None:
        from minigrad.core.module import Module  # they import each other

        kinds = (Parameter, Buffer, Module)
        self.token = _Structure.token
        self.memo: dict[str, object] = {}
        """What a container derives from its structure (`Sequential`'s release plan):
        valid as long as the tree is, so rebuilt with it."""
        modules: list[Module[Any]] = []
        self.persistent: list[frozenset[str]] = []
        self.watched: list[tuple[Any, tuple[object, ...]]] = []
        seen: set[int] = set()
        pending = [root]
        while pending:  # depth first, children in order
            module = pending.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            modules.append(module)
            keep = {"training"}
            for name, value in vars(module).items():
                if (isinstance(value, kinds) if name == "cache"
                        else holds_members(value, kinds, self.watched)):
                    keep.add(name)
            self.persistent.append(frozenset(keep))
            pending.extend(reversed([child for _, child in module.named_children()]))
        self.root = weakref.ref(root)
        """Weakly: the trees are kept in a table (`tree_of`) that must not keep a model
        alive -- its entry goes when the root does."""
        self.descendants = modules[1:]

    @property
    def modules(self) -> list[Module[Any]]:
        """The root and its descendants, each once, in `Module.modules` order."""
        root = self.root()
        assert root is not None  # looked up through its root, which is alive
        return [root, *self.descendants]

    def shared_uses(self) -> tuple[Any, ...]:
        """The weight-sharing positions (``SharedUse``) of the containers in the tree,
        outer ones first, found once per structure: what `Module.release` also lets go
        of."""
        found: Any = self.memo.get("shared_uses")
        if found is None:
            found = self.memo["shared_uses"] = tuple(chain.from_iterable(
                module._shared_uses for module in self.modules))
        return found  # type: ignore[no-any-return]

    def valid(self) -> bool:
        """Built under the current structure token, and no watched list or dict changed."""
        return self.token is _Structure.token and (not self.watched or all(  # most: none
            len(container) == len(items) and all(
                a is b for a, b in zip(_items(container), items))
            for container, items in self.watched))

    def stash(self) -> Stash:
        """`Module.stash`: per module, its per-use attributes -- a copy of its
        ``__dict__`` less the persistent names, lists, dicts and sets copied one level."""
        states = tuple([vars(module).copy() for module in self.modules])
        for state, persistent in zip(states, self.persistent):
            for name in persistent:  # a few names: its members, ``training``
                state.pop(name, None)
        if _NEVER_COPIED.issuperset(map(type, chain.from_iterable(map(dict.values, states)))):
            return Stash(states, ())  # the common case, decided without a Python loop
        copies = tuple((index, name) for index, state in enumerate(states)
                       for name, value in state.items() if isinstance(value, _ONE_LEVEL))
        for index, name in copies:
            states[index][name] = copy.copy(states[index][name])
        return Stash(states, copies)

    def restore(self, stashed: object, root: Module[Any]) -> None:
        """`Module.unstash`: each module's per-use attributes as ``stashed`` has them,
        those it does not have deleted (set since: back to the class default, or gone),
        the persistent ones as they are -- set and dict operations, no loop in Python
        over the attributes."""
        if not isinstance(stashed, Stash) or len(stashed.states) != len(self.persistent):
            raise RuntimeError(f"{root!r}.unstash() takes what its stash() returned, with "
                               "the same modules in the tree")
        modules = self.modules
        for module, persistent, own in zip(modules, self.persistent, stashed.states):
            state = vars(module)
            extra = state.keys() - own.keys()
            if not persistent.issuperset(extra):  # per-use attributes set since the stash
                for name in extra - persistent:
                    del state[name]
            state.update(own)
        for index, name in stashed.copies:  # the stash stays the stash: copied again
            vars(modules[index])[name] = copy.copy(stashed.states[index][name])


class Evaluation:
    """`Module.stash`, `Module.mode` ``(training=False)`` and, on leaving, `Module.unstash`
    and the modes as they were -- what `minigrad.predict` wraps around its forwards --
    in one pass over the tree each way::

        with Evaluation(model):
            y = model.forward(x)

    A snapshot of every module's ``__dict__`` (``training`` and the members included,
    per-use lists, dicts and sets copied one level), restored as a whole on leaving:
    the per-use attributes the forwards set are gone again, and a mode that came from
    the class is put back on the instance (as `Module.mode` leaves it, so the next
    snapshot has it). Taken apart -- a stash that leaves the persistent names out, an
    unstash by set operations, a mode's two loops over the tree -- these were ~40 µs
    of a ~300 µs batch-1 `predict` of the digits CNN (in the chain: the module dicts
    out of cache after the forward's arrays). If a forward changed the structure
    (assigned a member), leaving falls back on `Tree.restore`, which leaves the
    members as they are now.

    The forwards' caches are kept until leaving, as outside (letting a `Sequential`
    drop each layer's cache once the next layer had run, as PyTorch's ``no_grad``
    frees activations, was measured: no gain at batch 1, and at batch 256 twice the
    page faults -- glibc handed the freed blocks back to the system and faulted new
    ones in -- and 17 → 22 ms for the digits CNN).
    """

    __slots__ = ("modules", "root", "states", "token", "tree")

    def __init__(self, root: Module[Any]) -> None:
        self.root = root

    def __enter__(self) -> None:
        self.tree = tree = tree_of(self.root)
        self.token = _Structure.token
        self.modules = modules = tree.modules
        self.states = states = list(map(dict.copy, map(vars, modules)))  # C-level loops
        if not _NEVER_COPIED.issuperset(map(type, chain.from_iterable(map(dict.values,
                                                                           states)))):
            for state, persistent in zip(states, tree.persistent):
                for name, value in state.items():  # per-use lists, dicts and sets, copied
                    if isinstance(value, _ONE_LEVEL) and name not in persistent:  # one level
                        state[name] = copy.copy(value)  # (a list of members stays itself)
        for module in modules:
            _set(module, "training", False)

    def __exit__(self, *exc: object) -> None:
        tree, states = self.tree, self.states
        del self.states
        if not (tree.valid() and self.token is _Structure.token):
            self._restore_changed(tree, states)
            return
        for module, own in zip(self.modules, states):
            state = vars(module)
            state.update(own)  # the snapshot's values back; then, if the dict holds more,
            if len(state) != len(own):  # what was set since goes again
                for name in state.keys() - own.keys():
                    del state[name]
                if "training" not in own:  # the class's mode, kept on the instance (as
                    _set(module, "training", module.training)  # `Module.mode` leaves it)

    def _restore_changed(self, tree: Tree, states: list[dict[str, object]]) -> None:
        """Leaving after a forward changed the structure: the per-use attributes back as
        `Tree.restore` puts them (the members left as they are), the modes as they were."""
        modules = tree.modules
        per_use = tuple({name: value for name, value in own.items() if name not in persistent}
                        for own, persistent in zip(states, tree.persistent))
        copies = tuple((index, name) for index, own in enumerate(per_use)
                       for name, value in own.items() if isinstance(value, _ONE_LEVEL))
        self.root.unstash(Stash(per_use, copies))
        for module, own in zip(modules, states):
            if "training" in own:
                _set(module, "training", own["training"])
            else:
                vars(module).pop("training", None)


class Stash(NamedTuple):
    """What `Module.stash` returns: each module's per-use attributes (``states``, in the
    tree's order) and which of them are lists, dicts and sets, copied one level, as
    ``(module index, name)``. A tuple: what it holds can be walked as any nested state
    (`minigrad.testing.check_layer` looks for its arrays)."""

    states: tuple[dict[str, object], ...]
    copies: tuple[tuple[int, str], ...]


_ONE_LEVEL = (list, dict, set)
"""Per-use values `Module.stash` copies (one level), so that appending to them later
does not reach into the stash."""

_NEVER_COPIED = frozenset({*_PLAIN, tuple, Parameter, Buffer, np.random.Generator})
"""Types of attribute values that are never a list, dict or set: a module holding only
these needs no look at its attributes one by one in `Tree.stash`."""


_TREES: dict[int, tuple[weakref.ref[Module[Any]], Tree]] = {}
"""Each root's `Tree`, by the root's ``id``, with a weak reference that tells the root
is the same one and drops the entry when it goes: a look-up without hashing the module
(a class may make itself unhashable) or a new weak reference, as ``WeakKeyDictionary``
makes for each ``get`` -- a backward, a `Module.mode`, a stash each look one up."""


def tree_of(root: Module[Any]) -> Tree:
    """``root``'s `Tree`: the cached one while it is valid, else a new one (kept)."""
    entry = _TREES.get(id(root))
    if entry is not None and entry[0]() is root and entry[1].valid():
        return entry[1]
    tree = Tree(root)
    _TREES[id(root)] = (weakref.ref(root, partial(_forget, id(root))), tree)
    return tree


def _forget(key: int, ref: weakref.ref[Module[Any]], trees: dict[int, Any] = _TREES) -> None:
    """Drop the tree of a root that is gone -- unless the entry is already another's.
    (``trees`` bound at definition: at interpreter exit the module's globals may be gone
    before the last roots.)"""
    entry = trees.get(key)
    if entry is not None and entry[0] is ref:
        del trees[key]


def release_tree(root: Module[Any]) -> None:
    """What `Module.release` does outside `retain_graph`: `release_modules` on ``root``'s
    tree, and each shared use's stash slot in its containers let go of
    (`Tree.shared_uses`): a container whose backward did not run still holds there the
    caches of each use."""
    tree = tree_of(root)
    release_modules(tree.modules)
    for use in tree.shared_uses():  # most trees: none
        use.release_unused()


def release_modules(modules: Sequence[Module[Any]]) -> None:
    """What `Module.release` does outside `retain_graph` (its callers ask): each of
    ``modules``' ``cache`` let go of, and marked released (a later ``saved`` says so)."""
    for module in modules:
        cache = module.cache
        if cache is not None:
            if type(cache) in _CACHE_PLAIN and module._cache_in_dict:
                module.__dict__["cache"] = None  # holds no member: no new tree, no call
            else:  # `Module.__setattr__` decides whether the structure changes
                module.cache = None
            if not module._released:  # set once: after the first step it stays set
                _set(module, "_released", True)


_set = object.__setattr__  # an assignment that bypasses `Module.__setattr__`


def raise_unsaved(module: Module[Any]) -> NoReturn:
    """`Module.saved`'s error for a ``module`` whose cache is None: released by a
    backward (`release_modules`), or never set since it was made or cleared."""
    if module._released:
        raise RuntimeError(
            f"{module!r}: backward() through the same forward a second time: the "
            "first backward released what the forward kept, to free its memory "
            "(as PyTorch frees its graph); run forward again, or run the backward "
            "passes inside `with minigrad.retain_graph():` to keep it"
        )
    raise RuntimeError(
        f"{module!r}: backward() called before forward(): there was no forward "
        "since it was made, or since its cache was cleared (clear_cache(), which "
        "model.to(...), the end of fit and the exporters call)"
    )


def plain_attribute(cls: type, name: str) -> bool:
    """Is ``name`` an ordinary attribute of ``cls``'s instances -- not a property or
    another descriptor that intercepts assignment? Then a value may be written straight
    into an instance's ``__dict__`` (`Module.__setattr__` does, for a forward's cache)."""
    owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
    return owner is None or not hasattr(type(vars(owner)[name]), "__set__")


_RETAIN: ContextVar[bool] = ContextVar("minigrad_retain_graph", default=False)


def retaining() -> bool:
    """Inside `retain_graph`?"""
    return _RETAIN.get()


@contextmanager
def retain_graph() -> Iterator[None]:
    """Keep what forwards saved for backward past the backward passes of this block --
    PyTorch's ``backward(retain_graph=True)``.

    A container's backward lets go of each layer's cache once that layer's backward has
    run (`Module.release`), so the memory is free for the rest of the step; a second
    backward through the same forward then raises. Inside this block nothing is
    released: backward may run through one forward several times (each time adding the
    parameter gradients again).

    >>> import numpy as np, minigrad as mg
    >>> model = mg.Sequential(mg.Dense(2, 2, rng=0), mg.ReLU())
    >>> y = model(np.ones((1, 2)))
    >>> with mg.retain_graph():
    ...     first = model.backward(np.ones((1, 2)))
    ...     second = model.backward(np.ones((1, 2)))
    >>> bool(np.array_equal(first, second))
    True
    """
    token = _RETAIN.set(True)
    try:
        yield
    finally:
        _RETAIN.reset(token)
