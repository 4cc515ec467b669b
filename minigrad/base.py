"""The foundation every other module builds on: `Parameter`, `Module` and `Layer`.

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
  modules (their own state is stashed in turn, recursively), and the ``training`` flag.
* **Per use** -- *everything else the instance holds*: ``self.cache``, ``self.x``, any
  attribute forward assigns. `stash` takes a shallow copy of these attributes, copying a
  list, dict or set held directly one level deeper (so a cache built with
  ``self.xs.append(x)`` is per use as well); `unstash` assigns them back and deletes
  those set since. Being per use,
  a Python counter or a log list kept on a layer is rolled back by `unstash` too: keep
  such things in a `Buffer`, or outside the layer.

Refused (`mg.testing.check_layer` fails it, in its stash/unstash check): a forward that
writes *in place* into an array or object it kept from an earlier call (``self.buf[...]
= x``). The stash holds the same array, so an earlier use's backward would see the later
use's values; assign a new array in each forward instead. A layer that calls one
sub-layer twice in its own forward must stash that sub-layer between the two uses
itself (``s = self.fc.stash()`` ... ``self.fc.unstash(s)``), as the containers do.
`Module.clear_cache` forgets ``self.cache`` (and the containers' stashes) only.
"""

from __future__ import annotations

import copy
import math
import types
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, NoReturn, TypeAlias

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, TypeVar

from minigrad import backend

Array: TypeAlias = npt.NDArray[Any]
"""A NumPy array; minigrad computes in floating dtypes (float64 unless a layer says otherwise)."""

CacheT = TypeVar("CacheT", default=Array)
"""What a layer's ``forward`` leaves in ``self.cache`` for its ``backward``.

A bare ``class Double(mg.Layer)`` caches one array -- the most common cache (an input
or an output), so `Module.saved` then returns an `Array`, exact under ``mypy --strict``.
Anything else is named: ``mg.Layer[tuple[Array, Array]]``, ``mg.Layer[None]``.
(``Any`` would accept everything but leak it: ``return g * self.saved()`` would
be "returning Any" to a strict checker.)"""

_REAL_KINDS = frozenset("biuf")  # bool, signed int, unsigned int, float


def check_parameter_dtype(owner: str, dtype: npt.DTypeLike) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype if parameters may have it: float32, float64 or wider.

    float16 is refused: training in it is silently wrong, not merely imprecise -- Adam's
    ``eps = 1e-8`` rounds to 0 in float16 (its smallest step is 6e-8), so a parameter
    whose gradient is zero becomes 0/0 = NaN at the first step, and any update smaller
    than 1/2048 of a weight is lost. Keep the parameters in float32 and cast the data.

    Raises
    ------
    TypeError
        A dtype that is not floating, or float16; the message starts with ``owner``.
    """
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise TypeError(f"{owner}: dtype must be a floating dtype, got {resolved}")
    if resolved.itemsize < 4:
        raise TypeError(
            f"{owner}: {resolved} is not supported, use float32 or float64: in {resolved} "
            "Adam's eps=1e-8 underflows to 0 (a zero gradient gives 0/0 = NaN at the "
            "first step) and updates below 1/2048 of a weight are lost"
        )
    return resolved


class Parameter:
    """A trainable array and the gradient accumulated for it.

    Parameters
    ----------
    data : array_like
        The initial values, copied (C order); must have a floating dtype.
    name : str, default ""
        The label for messages.

    Attributes
    ----------
    data : ndarray
        The values. Optimizers update it *in place*, so references to it stay valid.
    grad : ndarray
        Same shape and dtype as ``data``, always the same array unless you assign
        one; ``backward`` adds to it, `zero_grad` clears it.
    name : str
        A label for messages (the attribute name it is stored under, by convention).

    Raises
    ------
    TypeError
        If ``data`` does not have a floating dtype, or has float16: Adam's
        ``eps = 1e-8`` underflows to 0 in float16, so training would turn weights into
        NaN; float32 and float64 are supported.

    Notes
    -----
    `zero_grad` is lazy, as PyTorch's ``set_to_none`` is: it only marks ``grad`` as
    zero. Reading ``grad`` fills it with zeros first, so every reader sees zeros, but
    `accumulate_matmul` -- how `Dense` adds ``x.T @ G`` -- writes its product straight
    into ``grad`` instead: one pass over the weights and one weight-sized temporary
    fewer per training step. Read ``grad`` through this attribute, not through an
    old reference to the array, to see the zeros.
    """

    __slots__ = ("_grad", "_grad_is_zero", "data", "name")

    def __init__(self, data: npt.ArrayLike, name: str = "") -> None:
        # A private copy: the caller's array is never trained. NumPy's is C-ordered, so
        # gradients can be written by matrix products with out= (which needs C order).
        if backend.is_foreign(data):  # a torch tensor, an array_api_strict array, ...
            array: Array = backend.namespace(data).asarray(data, copy=True)
        else:
            array = np.array(data, order="C")
        check_parameter_dtype(f"Parameter {name!r}", backend.numpy_dtype(array.dtype))
        self.data: Array = array
        self._grad: Array = backend.namespace(array).zeros_like(array)
        self._grad_is_zero = False  # True: _grad holds stale values that read as zero
        self.name = name

    @property
    def grad(self) -> Array:
        """dL/d(data), same shape and dtype as ``data``; zeros after `zero_grad`
        (filled lazily, on first read).

        Raises
        ------
        ValueError
            On assignment: a value that is not a writable C-contiguous ndarray of
            ``data``'s shape and dtype, or one sharing memory with ``data``.
        """
        if self._grad_is_zero:
            backend.fill_zero(self._grad)
            self._grad_is_zero = False
        return self._grad

    @grad.setter
    def grad(self, value: Array) -> None:
        if type(self.data) is np.ndarray:
            bad = (
                not isinstance(value, np.ndarray)
                or (value.shape, value.dtype) != (self.data.shape, self.data.dtype)
                or not value.flags.c_contiguous
                or not value.flags.writeable
                or np.shares_memory(value, self.data)
            )
        else:  # another library's array: of data's library, device, shape and dtype
            bad = (
                not backend.same_place(value, self.data)
                or (value.shape, value.dtype) != (self.data.shape, self.data.dtype)
                or value is self.data
            )
        if bad:
            got = (getattr(value, "shape", None), getattr(value, "dtype", None))
            raise ValueError(
                f"Parameter {self.name!r}: grad must be a writable C-contiguous array of "
                f"shape {tuple(self.data.shape)} and dtype {self.data.dtype} "
                f"({backend.describe(self.data)}), separate from data; got "
                f"{backend.describe(value)} of shape {got[0]}, dtype {got[1]}"
            )
        self._grad = value
        self._grad_is_zero = False

    @property
    def shape(self) -> tuple[int, ...]:
        """``data.shape``, as a tuple (whatever the array library)."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """``data.dtype``."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of scalars in ``data``."""
        return math.prod(self.data.shape)

    def zero_grad(self) -> None:
        """Make ``grad`` zero (lazily: see the class notes)."""
        self._grad_is_zero = True

    def accumulate_matmul(self, a: Array, b: Array) -> None:
        """``grad += a @ b``; right after `zero_grad`, ``grad = a @ b`` computed in place.

        ``a @ b`` must have ``grad``'s shape and dtype.
        """
        if type(a) is np.ndarray:  # inline: the blog net's step is made of such calls
            if self._grad_is_zero:
                np.dot(a, b, out=self._grad)
                self._grad_is_zero = False
            else:
                self._grad += np.dot(a, b)
        elif self._grad_is_zero:
            backend.matmul_into(a, b, self._grad)
            self._grad_is_zero = False
        else:
            self._grad += a @ b

    def to(self, xp: backend.Namespace, device: object = None) -> None:
        """Move ``data`` and ``grad`` to the array namespace ``xp`` (see
        `minigrad.backend.resolve`) on ``device``; nothing happens if they are there.
        ``data`` becomes a new array: references to the old one no longer train."""
        self.data = backend.move(self.data, xp, device)
        self._grad = backend.move(self._grad, xp, device)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class Buffer:
    """Non-trainable state that belongs to a module: running statistics, counters.

    A buffer is saved and loaded with the parameters (`Module.state_dict` lists it under
    its dotted path), moves with the model, and is never seen by an optimizer. It
    persists across every use of a shared layer: it is *not* part of the per-use state
    that weight sharing stashes and restores, so a layer updates it in place or by
    assigning ``buffer.data``, and every use sees the latest value.

    Parameters
    ----------
    data : array_like
        The initial values, copied (C order); any real dtype (counters may be integers).
    name : str, default ""
        The label for messages.

    Attributes
    ----------
    data : ndarray
        The values.
    name : str
        A label for messages.

    Raises
    ------
    TypeError
        If ``data`` does not have a real numeric dtype.
    """

    __slots__ = ("data", "name")

    def __init__(self, data: npt.ArrayLike, name: str = "") -> None:
        if backend.is_foreign(data):
            array: Array = backend.namespace(data).asarray(data, copy=True)
        else:
            array = np.array(data, order="C")
        if backend.numpy_dtype(array.dtype).kind not in _REAL_KINDS:
            raise TypeError(f"Buffer {name!r} needs a real numeric dtype, got {array.dtype}")
        self.data: Array = array
        self.name = name

    def to(self, xp: backend.Namespace, device: object = None) -> None:
        """Move ``data`` to the array namespace ``xp`` on ``device`` (a no-op if there)."""
        self.data = backend.move(self.data, xp, device)

    @property
    def shape(self) -> tuple[int, ...]:
        """``data.shape``, as a tuple (whatever the array library)."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """``data.dtype``."""
        return self.data.dtype

    def __repr__(self) -> str:
        return f"Buffer({self.name!r}, shape={self.shape}, dtype={self.dtype})"


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
        `minigrad.base` says what `stash` covers.)
    """

    # Class-level defaults, so a subclass that forgets ``super().__init__()`` still works.
    training: bool = True
    cache: CacheT | None = None

    # -- the tree -------------------------------------------------------------------
    def named_members(self) -> Iterator[tuple[str, object]]:
        """Attributes by name, with lists, tuples and dicts of them expanded
        (``self.blocks = [Dense(...), Dense(...)]`` gives ``blocks.0``, ``blocks.1``)."""
        for name, value in vars(self).items():
            yield from _expand(name, value)

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
        return _first_paths(self._walk_parameters(""))

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
        return _first_paths(self._walk_buffers(""))

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

    # -- array library --------------------------------------------------------------
    def to(self, library: types.ModuleType, device: object = None) -> Self:
        """Move every parameter, its gradient and every buffer to the array library
        ``library`` -- the module ``numpy``, ``torch``, ``cupy`` or ``array_api_strict``
        -- on ``device`` (``"cuda"``, ``"cuda:1"``; by default the library's), and
        return this module. ``model.to(numpy)`` brings it home.

        The moved model takes and returns that library's arrays; a batch of another
        library or device is refused (`TypeError`), never copied behind your back.
        Caches of earlier forwards are cleared. Create the optimizer after moving the
        model: its state lives where the parameters were when it was made.

        Raises
        ------
        TypeError
            ``library`` is not an array library minigrad can compute with.
        """
        xp = backend.resolve(library)
        for param in self.parameters():
            param.to(xp, device)
        for buffer in self.buffers():
            buffer.to(xp, device)
        self.clear_cache()
        return self

    # -- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        """Put this module and all its descendants in training mode (or eval if False)."""
        for module in self.modules():
            module.training = mode
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
        saved = [(module, module.training) for module in self.modules()]
        self.train(training)
        try:
            yield
        finally:
            for module, mode in saved:
                module.training = mode

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

        Everything is checked before anything is written, so on error the module is
        unchanged. With ``strict`` (the default) missing and unexpected keys are errors;
        a shape or dtype mismatch always is.

        Returns
        -------
        missing_keys, unexpected_keys : list of str
            What was not loaded (both empty in strict mode), as PyTorch reports them.

        Raises
        ------
        KeyError
            A missing or unexpected key (strict mode), naming it.
        ValueError
            A shape or dtype mismatch, naming the key.
        """
        params: dict[str, Parameter | Buffer] = dict(self.named_parameters())
        params.update(self.named_buffers())
        missing = sorted(params.keys() - state.keys())
        unexpected = sorted(state.keys() - params.keys())
        if strict and (missing or unexpected):
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        def kind(target: Parameter | Buffer) -> str:
            return "parameter" if isinstance(target, Parameter) else "buffer"

        updates: list[tuple[Parameter | Buffer, Array]] = []
        for name, param in params.items():
            if name not in state:
                continue
            value = backend.to_numpy(state[name]) if backend.is_foreign(state[name]) else (
                np.asarray(state[name]))
            if value.shape != param.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has shape "
                    f"{value.shape}, the {kind(param)} has shape {param.shape}"
                )
            if value.dtype != backend.numpy_dtype(param.dtype):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has dtype "
                    f"{value.dtype}, the {kind(param)} has dtype {param.dtype}"
                )
            updates.append((param, value))
        for param, value in updates:
            if type(param.data) is np.ndarray:
                np.copyto(param.data, value)
            else:  # in place, so the array (and any reference to it) stays
                param.data[...] = backend.asarray(value, backend.namespace(param.data),
                                                  backend.device(param.data))
        return missing, unexpected

    # -- per-use cache (weight sharing) ----------------------------------------------
    def saved(self) -> CacheT:
        """The cache of the latest ``forward``.

        Raises
        ------
        RuntimeError
            If there has been no ``forward`` (or the cache was cleared):
            ``"backward() called before forward()"``, naming the module.
        """
        cache = self.cache
        if cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        return cache

    def clear_cache(self) -> None:
        """Forget the latest forward's ``self.cache`` in this module and its descendants
        (frees memory; a later ``backward`` raises). Other attributes are left alone."""
        self.cache = None
        for _, child in self.named_children():
            child.clear_cache()

    def stash(self) -> object:
        """A snapshot of this module's per-use state, for `unstash` to restore.

        Everything the instance holds except its `Parameter` and `Buffer` objects, child
        modules and ``training`` flag (see the sharing rule in `minigrad.base`): a
        shallow copy, with lists, dicts and sets copied one level; each child's own
        `stash`, recursively. Cheap: no array is copied.
        """
        own = {name: _copy_one_level(value) for name, value in vars(self).items()
               if _per_use(name, value)}
        return own, [child.stash() for _, child in self.named_children()]

    def unstash(self, stashed: object) -> None:
        """Restore what `stash` returned, so ``backward`` sees that forward again.

        Exactly: per-use attributes set since the stash are deleted again. ``None``
        (a container's slot for a use that has not run) means `clear_cache`. The stash
        itself is not adopted: restoring it twice gives the same state twice.
        """
        if stashed is None:
            self.clear_cache()
            return
        assert isinstance(stashed, tuple), "unstash() takes what stash() returned"
        own, children = stashed
        state = vars(self)
        for name in [name for name, value in state.items()
                     if name not in own and _per_use(name, value)]:
            del state[name]  # set after the stash: back to the class default, or gone
        for name, value in own.items():
            state[name] = _copy_one_level(value)
        for (_, child), item in zip(self.named_children(), children):
            child.unstash(item)

    # -- display --------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def _per_use(name: str, value: object) -> bool:
    """Is this attribute per-use state (stashed), rather than persistent?"""
    return name != "training" and not isinstance(value, (Parameter, Buffer, Module))


def _copy_one_level(value: object) -> object:
    """``value``, with a list, dict or set replaced by a shallow copy."""
    if isinstance(value, (list, dict, set)):
        return copy.copy(value)
    return value


def _first_paths(walk: Iterator[tuple[str, _Member]]) -> Iterator[tuple[str, _Member]]:
    """The items of ``walk``, each object once, under the first path it was met at."""
    seen: set[int] = set()
    for name, member in walk:
        if id(member) not in seen:
            seen.add(id(member))
            yield name, member


def _expand(name: str, value: object) -> Iterator[tuple[str, object]]:
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _expand(f"{name}.{index}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expand(f"{name}.{key}", item)
    else:
        yield name, value


class Layer(Module[CacheT]):
    """A module with one input: ``forward(x) -> y`` and ``backward(dL/dy) -> dL/dx``.

    Subclasses implement `forward` and `backward`; calling the layer is `forward`.
    """

    @abstractmethod
    def forward(self, x: Array) -> Array:
        """Compute the output for a batch ``x`` and cache what ``backward`` needs.

        Parameters
        ----------
        x : ndarray, shape (N, *sample_shape)
            A batch of N samples; each layer states the sample shape it takes
            (`Dense`: ``(..., in_features)``, `Conv2D`: ``(C, H, W)``).

        Returns
        -------
        ndarray, shape (N, *output_sample_shape)

        Raises
        ------
        TypeError, ValueError
            Built-in layers raise these, naming themselves, for an input that is not
            a non-empty real batch of the shape they take.
        """

    @abstractmethod
    def backward(self, grad_out: Array) -> Array:
        """Given dL/d(output) of the latest forward, accumulate parameter gradients
        and return dL/d(input).

        Parameters
        ----------
        grad_out : ndarray, shape of the latest output
            ``G = dL/dy``; not modified.

        Returns
        -------
        ndarray, shape of the latest input
            dL/dx; may be ``grad_out`` itself or a view of it, so do not modify it.

        Raises
        ------
        RuntimeError
            Before any ``forward`` (see `saved`).
        TypeError, ValueError
            Built-in layers raise these, naming themselves, for a gradient that is not
            real or not of the latest output's shape.
        """

    def backward_params(self, grad_out: Array) -> None:
        """Like `backward` when dL/d(input) is not wanted -- for the model's input, in
        a training step: accumulate the parameter gradients only.

        This default calls `backward` and drops its result; layers override it to skip
        computing the input gradient (for `Dense`, one of its two equal backward matmuls:
        half its backward, a third of its training step's matmuls).
        """
        self.backward(grad_out)

    def __call__(self, x: npt.ArrayLike) -> Array:
        return self.forward(x)  # type: ignore[arg-type]  # layers validate their input


class MergeLayer(Module[CacheT]):
    """A module with several inputs: ``forward(x_1, ..., x_k) -> y`` and
    ``backward(dL/dy) -> (dL/dx_1, ..., dL/dx_k)``, one gradient per input, in order.

    Merge layers (`Add`, `Concat`, yours) join the branches of a `Graph`. A merge layer
    is not a `Layer` -- that promises one input and one returned gradient -- but shares
    all of `Module`: parameters, modes, state and the per-use cache. Calling one is
    `forward`.

    Attributes
    ----------
    min_inputs, max_inputs : int, int or None
        How many inputs the layer takes (class attributes; ``max_inputs=None``: no
        limit), enforced by `check_arity`: a `Graph` checks each node at construction,
        the built-in merge layers check again in ``forward``.
    """

    min_inputs: int = 2
    max_inputs: int | None = None

    @abstractmethod
    def forward(self, *xs: Any) -> Array:
        """Combine the batches ``xs`` into one output and cache what ``backward`` needs.

        Override it with the inputs you take, named -- ``forward(self, a, b)`` -- or as
        ``*xs``. The inputs are typed ``Any`` here so that both are valid overrides under
        ``mypy --strict``: ``*xs: Array`` would promise that every merge layer accepts
        any number of arrays, which a two-input layer does not, so naming them would be
        an override error. The count is checked at run time, by `check_arity`.
        """

    @abstractmethod
    def backward(self, grad_out: Array) -> tuple[Array, ...]:
        """Given dL/d(output) of the latest forward, accumulate parameter gradients
        and return dL/d(input) for each input of that forward, in order."""

    def __call__(self, *xs: npt.ArrayLike) -> Array:
        return self.forward(*xs)  # layers validate their inputs


# -- argument checks shared across the library ------------------------------------------


def check_number(
    owner: str, name: str, value: object, rule: str, ok: Callable[[float], bool]
) -> float:
    """``value`` as a float if it is a real number (not a bool) for which ``ok`` holds;
    otherwise `ValueError`: ``"{owner}: {name} must be {rule}, got {value!r}"``."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not ok(float(value))
    ):
        raise ValueError(f"{owner}: {name} must be {rule}, got {value!r}")
    return float(value)


def check_non_negative(owner: str, name: str, value: object) -> float:
    """``value`` as a float if it is finite and >= 0, else `ValueError` naming it."""
    return check_number(owner, name, value, "a finite number >= 0",
                        lambda v: math.isfinite(v) and v >= 0)


def check_positive(owner: str, name: str, value: object) -> float:
    """``value`` as a float if it is finite and > 0, else `ValueError` naming it."""
    return check_number(owner, name, value, "a finite number > 0",
                        lambda v: math.isfinite(v) and v > 0)


def check_count(owner: str, name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (NumPy ints too, bools not), else `ValueError`."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# -- input validation shared by the layers ----------------------------------------------


def as_batch(
    layer: Module[Any],
    x: object,
    *,
    features: int | None = None,
    shape: tuple[int | str, ...] | None = None,
    dtype: np.dtype[Any] | None = None,
    like: Array | None = None,
) -> Array:
    """Validate a layer's input ``(batch, *sample_shape)`` and return it as an array.

    Without ``shape`` any rank >= 2 is accepted -- a batch of samples with at least one
    axis -- and ``features``, when given, is the size of the *last* axis (what `Dense`
    maps). With ``shape``, a template such as ``("batch", 3, "height", "width")``, the
    rank must be ``len(shape)`` and each int entry must match (strings name free axes).

    ``like`` is the layer's parameter array (its weight): the input must be an array
    of its library on its device -- a NumPy batch for a NumPy layer, a tensor on the
    same device for a layer moved with `Module.to` -- and is computed in its dtype.
    Without ``like``, any library's array is accepted as it is. NumPy inputs may be
    any real array-like; ``dtype`` forces a computation dtype (a NumPy dtype means
    the same-named dtype of a foreign input's library). Otherwise a floating input
    keeps its dtype and bool/int become float64.

    Raises
    ------
    TypeError
        A non-real input, or one of another library or device than ``like`` (naming
        both; never copied across), naming ``layer``.
    ValueError
        A shape other than expected, or an empty input, naming ``layer``.
    """
    if like is not None:
        dtype = like.dtype
    # Fast path: the common case costs a handful of attribute reads.
    if (
        type(x) is np.ndarray
        and (like is None or type(like) is np.ndarray)
        and (x.ndim >= 2 if shape is None else x.ndim == len(shape))
        and (x.dtype == dtype if dtype is not None else x.dtype.kind == "f")
        and (features is None or x.shape[-1] == features)
        and x.size > 0
        and (shape is None or _matches(x.shape, shape))
    ):
        return x
    return _as_batch_slow(layer, x, features, shape, dtype, like)


def _matches(actual: tuple[int, ...], template: tuple[int | str, ...]) -> bool:
    return len(actual) == len(template) and all(
        isinstance(want, str) or got == want for got, want in zip(actual, template)
    )


def expected_shape(features: int | None, shape: tuple[int | str, ...] | None) -> str:
    """How `as_batch` writes the shape it expects: ``(batch, ..., 4)``, ``(batch, 3, L)``."""
    if shape is not None:
        return "(" + ", ".join(str(item) for item in shape) + ")"
    return f"(batch, ..., {features if features is not None else 'features'})"


def check_same_place(layer: Module[Any], x: object, like: object, what: str = "input") -> None:
    """Refuse ``x`` unless it is an array of ``like``'s library on ``like``'s device.

    Raises
    ------
    TypeError
        Naming ``layer``, where its parameters live and what ``x`` is.
    """
    if not backend.same_place(x, like):
        raise TypeError(
            f"{layer!r} has its parameters as {backend.describe(like)}, got an {what} of "
            f"{backend.describe(x)}; move the {what} there (minigrad never copies across "
            "libraries or devices behind your back), or the model with model.to(...)"
        )


def _as_batch_slow(
    layer: Module[Any],
    x: object,
    features: int | None,
    shape: tuple[int | str, ...] | None,
    dtype: Any,
    like: Array | None,
) -> Array:
    def fits(sizes: tuple[int, ...]) -> bool:
        if shape is not None:
            return _matches(sizes, shape)
        return len(sizes) >= 2 and (features is None or sizes[-1] == features)

    return validate_input(layer, x, expected_shape(features, shape), fits, dtype, like)


def validate_input(
    layer: Module[Any],
    x: object,
    expected: str,
    fits: Callable[[tuple[int, ...]], bool],
    dtype: Any = None,
    like: Array | None = None,
) -> Array:
    """The validation behind `as_batch` (and ``nd.as_nd``), for any shape rule.

    ``x`` must be a real array (NumPy inputs: any array-like) whose shape ``fits``
    (``expected`` says it in words, for the message) and which is not empty; with
    ``like`` (the layer's parameter), of ``like``'s library and device, computed in its
    dtype. ``dtype`` (a NumPy dtype, or the input library's) forces the computation
    dtype; otherwise a floating input keeps its dtype and bool/int become float64.

    Raises
    ------
    TypeError
        A non-real input, or one of another library or device than ``like`` (naming
        both), naming ``layer``.
    ValueError
        A shape that does not fit, or an empty input, naming ``layer``.
    """
    if like is not None:
        dtype = like.dtype
    if backend.is_foreign(x) or (like is not None and type(like) is not np.ndarray):
        if like is not None:
            check_same_place(layer, x, like)
        array: Any = x
        kind = backend.numpy_dtype(array.dtype).kind
    else:
        try:
            array = np.asarray(x)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{layer!r} expected input of shape {expected}: {exc}") from None
        kind = array.dtype.kind
    if kind not in _REAL_KINDS:
        raise TypeError(f"{layer!r} expected a real numeric input, got dtype {array.dtype}")
    sizes = tuple(array.shape)
    if not fits(sizes):
        raise ValueError(f"{layer!r} expected input of shape {expected}, got {sizes}")
    if math.prod(sizes) == 0:
        raise ValueError(f"{layer!r} got an empty input of shape {sizes}")
    if type(array) is np.ndarray:
        if dtype is None:
            dtype = array.dtype if kind == "f" else np.dtype(np.float64)
        return array.astype(dtype, copy=False)
    xp = backend.namespace(array)
    if dtype is None:
        dtype = array.dtype if kind == "f" else xp.float64
    elif isinstance(dtype, np.dtype):  # a NumPy dtype named for another library's array
        dtype = getattr(xp, dtype.name)
    converted: Array = array if array.dtype == dtype else xp.astype(array, dtype)
    return converted


def as_grad(
    layer: Module[Any], grad: object, shape: tuple[int, ...], dtype: Any
) -> Array:
    """Validate the gradient handed to ``layer.backward``: the shape of its last output,
    computed in ``dtype``, the dtype of that output (which says its library, too).

    Raises
    ------
    TypeError
        A non-real gradient, or one of another library than the output, naming ``layer``.
    ValueError
        Another shape than the last output's, naming ``layer``.
    """
    if type(grad) is np.ndarray and grad.shape == shape and grad.dtype == dtype:
        return grad
    if isinstance(dtype, np.dtype):  # a NumPy layer
        if backend.is_foreign(grad):
            raise TypeError(f"{layer!r}.backward expected a NumPy gradient (its output was "
                            f"one), got {backend.describe(grad)}")
        array: Any = np.asarray(grad)
    else:
        array = grad
        if not backend.is_foreign(grad) or type(getattr(grad, "dtype", None)) is not type(dtype):
            raise TypeError(f"{layer!r}.backward expected a gradient of its output's library "
                            f"(dtype {dtype}), got {backend.describe(grad)}")
    if backend.numpy_dtype(array.dtype).kind not in _REAL_KINDS:
        raise TypeError(f"{layer!r}.backward expected a real gradient, got dtype {array.dtype}")
    if tuple(array.shape) != tuple(shape):
        raise ValueError(
            f"{layer!r}.backward expected a gradient of shape {tuple(shape)} "
            f"(the shape of the last output), got {tuple(array.shape)}"
        )
    if type(array) is np.ndarray:
        return array.astype(dtype, copy=False)
    converted: Array = array if array.dtype == dtype else backend.namespace(array).astype(
        array, dtype)
    return converted


def check_arity(layer: Layer[Any] | MergeLayer[Any], count: int) -> None:
    """Raise `ValueError` naming ``layer`` unless it takes ``count`` inputs: a `Layer`
    takes one, a `MergeLayer` from ``min_inputs`` to ``max_inputs``."""
    if isinstance(layer, MergeLayer):
        low, high = layer.min_inputs, layer.max_inputs
    else:
        low, high = 1, 1
    if low <= count and (high is None or count <= high):
        return
    if high is None:
        takes = f"at least {low} inputs"
    elif low == high:
        takes = f"exactly {low} input{'' if low == 1 else 's'}"
    else:
        takes = f"{low} to {high} inputs"
    raise ValueError(f"{layer!r} takes {takes}, got {count}")


def raise_located(exc: Exception, container: str, where: str) -> NoReturn:
    """Re-raise ``exc`` with ``where`` (``"[2]"``, ``"['res']"``) prepended to its path.

    Containers wrap the errors of their children so a message reads
    ``at Sequential[2][1]: Dense(4→3) expected ...`` -- the indexing expression that
    reaches the failing layer. The original traceback is kept; exceptions of other
    types than ValueError, TypeError, RuntimeError and KeyError pass through unchanged.
    """
    if type(exc) not in (ValueError, TypeError, RuntimeError, KeyError):
        raise exc
    path = where + getattr(exc, "minigrad_path", "")
    message = getattr(exc, "minigrad_message", exc.args[0] if exc.args else "")
    wrapped = type(exc)(f"at {container}{path}: {message}")
    wrapped.minigrad_path = path  # type: ignore[attr-defined]
    wrapped.minigrad_message = message  # type: ignore[attr-defined]
    raise wrapped.with_traceback(exc.__traceback__) from None
