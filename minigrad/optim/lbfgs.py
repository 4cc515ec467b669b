"""`LBFGS`: limited-memory BFGS with an optional strong-Wolfe line search, PyTorch's
algorithm (``torch.optim.LBFGS``, itself ported from Lua torch's ``optim``), line by
line, with its line search in `minigrad.optim.line_search`.

It works on all parameters at once as one flat vector (their gradients joined in
``params`` order), in the parameters' array library, and re-evaluates the objective
through a closure several times a step; it allocates as it goes (its history is
``2 × history_size`` such vectors), unlike the first-order optimizers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad import backend
from minigrad.core import Array, check_count, check_non_negative
from minigrad.optim.extra_state import ExtraState, _as_numpy
from minigrad.optim.groups import Hyperparameter, ParamsLike
from minigrad.optim.line_search import dot, strong_wolfe

Closure = Callable[[], float]
"""Re-evaluates the objective: zero the gradients, run forward and backward (filling each
``param.grad``), return the loss."""


@dataclass
class History:
    """LBFGS's state between steps, PyTorch's ``state`` entries by name."""

    func_evals: int = 0
    """Closure calls so far, all steps together."""
    n_iter: int = 0
    """Iterations so far, all steps together (0: nothing below is set yet)."""
    d: Array | None = None
    """The last search direction."""
    t: float = 0.0
    """The last step length along ``d``."""
    old_dirs: list[Array] = field(default_factory=list)
    """Gradient differences y, oldest first (at most ``history_size``)."""
    old_stps: list[Array] = field(default_factory=list)
    """Steps s = t d, oldest first."""
    ro: list[float] = field(default_factory=list)
    """1 / (yᵀ s) for each pair."""
    H_diag: float = 1.0  # (PyTorch's name)
    """The scale of the initial inverse Hessian, yᵀ s / yᵀ y of the newest pair."""
    prev_flat_grad: Array | None = None
    """The gradient at the start of the last iteration."""
    prev_loss: float = 0.0
    """The loss at the start of the last iteration."""


_ARRAYS = ("d", "prev_flat_grad")
_NUMBERS = ("t", "H_diag", "prev_loss")
_COUNTS = ("func_evals", "n_iter")
_PAIRS = ("old_dirs", "old_stps")


class LBFGS(ExtraState):
    """L-BFGS (Liu & Nocedal, 1989), as ``torch.optim.LBFGS``: ``step(closure)``.

    Each `step` runs up to ``max_iter`` iterations on the flat vector x of all
    parameters, from the gradient g (closure evaluations: at most ``max_eval``)::

        d = −H g          (H: the inverse Hessian estimate from the last ``history_size``
                           pairs s = x_{k+1} − x_k, y = g_{k+1} − g_k -- the two-loop
                           recursion, started from H₀ = (yᵀ s / yᵀ y) I; d = −g at first)
        t = γ             (min(1, 1 / Σ|g|) γ at the very first iteration)
        t ← a step length satisfying the strong Wolfe conditions along d
                          (line_search_fn="strong_wolfe"; else t stays)
        x ← x + t d

    and stops early when max |g| ≤ tolerance_grad, when the directional derivative
    gᵀd > −tolerance_change, when max |t d| ≤ tolerance_change, or when the loss
    changed by less than tolerance_change. A pair enters the history only if
    yᵀ s > 1e-10.

    State: `history` (PyTorch's ``state`` entries), saved by `state_dict` as
    ``"state.0.{name}"`` (as PyTorch files them under the first parameter): the counts
    ``func_evals``, ``n_iter`` (int64), the vectors ``d``, ``prev_flat_grad`` (in the
    parameters' dtype; zeros before the first iteration), ``old_dirs``, ``old_stps``
    (``(pairs, size)``), ``ro`` (``(pairs,)``) and the numbers ``t``, ``H_diag``,
    ``prev_loss``. ``line_search_fn`` is saved as a string, ``""`` for None.

    Parameters
    ----------
    params : iterable of Parameter
        One group only (as PyTorch), all in one array library, device and dtype.
    lr : float ≥ 0, default 1
    max_iter : int ≥ 1, default 20
        Iterations per `step`.
    max_eval : int ≥ 1, optional
        Closure evaluations per `step`; default ``max_iter * 5 // 4``.
    tolerance_grad : float ≥ 0, default 1e-7
    tolerance_change : float ≥ 0, default 1e-9
    history_size : int ≥ 1, default 100
    line_search_fn : {None, "strong_wolfe"}, default None

    Raises
    ------
    ValueError
        A hyperparameter out of range; parameter groups; parameters of several
        libraries, devices or dtypes; an empty ``params`` or a parameter listed twice.
    TypeError
        An item of ``params`` that is not a `Parameter`; `step` without a closure.
    """

    max_iter = Hyperparameter[int]()
    max_eval = Hyperparameter[int]()
    tolerance_grad = Hyperparameter[float]()
    tolerance_change = Hyperparameter[float]()
    history_size = Hyperparameter[int]()
    line_search_fn = Hyperparameter[str | None]()

    def __init__(
        self,
        params: ParamsLike,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
             "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
             "history_size": history_size, "line_search_fn": line_search_fn},
        )
        if len(self.param_groups) != 1:
            raise ValueError(f"LBFGS: supports one parameter group only (as PyTorch's), got "
                             f"{len(self.param_groups)}; pass the parameters as one list")
        places = {(type(p.data), str(backend.device(p.data)), str(p.data.dtype))
                  for p in self.params}
        if len(places) > 1:
            raise ValueError("LBFGS: all parameters must share one array library, device and "
                             f"dtype (it joins them into one vector), got {sorted(places)}")
        self._xp = backend.namespace(self.params[0].data)
        self._size = sum(p.size for p in self.params)
        self.history = History()

    def validate_hyperparameters(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        max_iter = check_count("LBFGS", "max_iter", hyper["max_iter"], 1)
        max_eval = hyper["max_eval"]
        line_search = hyper["line_search_fn"]
        if line_search not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search!r}")
        return {
            "lr": check_non_negative("LBFGS", "lr", hyper["lr"]),
            "max_iter": max_iter,
            "max_eval": (max_iter * 5 // 4 if max_eval is None
                         else check_count("LBFGS", "max_eval", max_eval, 1)),
            "tolerance_grad": check_non_negative("LBFGS", "tolerance_grad",
                                                 hyper["tolerance_grad"]),
            "tolerance_change": check_non_negative("LBFGS", "tolerance_change",
                                                   hyper["tolerance_change"]),
            "history_size": check_count("LBFGS", "history_size", hyper["history_size"], 1),
            "line_search_fn": line_search,
        }

    # -- the algorithm -------------------------------------------------------------------
    # (It takes a closure and returns the loss, as PyTorch's; the base's step takes neither.)
    def step(self, closure: Closure | None = None) -> float:  # type: ignore[override]
        """Up to ``max_iter`` iterations; the loss the first closure call returned.

        Raises
        ------
        TypeError
            No ``closure``: LBFGS re-evaluates the objective during its step.
        """
        if closure is None:
            raise TypeError("LBFGS: step needs a closure that zeroes the gradients, runs the "
                            "forward and backward passes and returns the loss: "
                            "opt.step(closure)")
        objective: Closure = closure  # (narrowed, for the line search's function too)
        self.steps += 1
        hyper, state = self.param_groups[0].hyper, self.history
        lr, max_iter, max_eval = hyper["lr"], hyper["max_iter"], hyper["max_eval"]
        tolerance_grad, tolerance_change = hyper["tolerance_grad"], hyper["tolerance_change"]
        history_size = hyper["history_size"]

        orig_loss = loss = float(objective())
        current_evals = 1
        state.func_evals += 1
        flat_grad = self._gather_flat_grad()
        if self._abs_max(flat_grad) <= tolerance_grad:
            return orig_loss
        d, t, h_diag = state.d, state.t, state.H_diag
        old_dirs, old_stps, ro = state.old_dirs, state.old_stps, state.ro
        prev_flat_grad, prev_loss = state.prev_flat_grad, state.prev_loss
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state.n_iter += 1
            # the direction
            if state.n_iter == 1:
                d, old_dirs, old_stps, ro, h_diag = -flat_grad, [], [], [], 1.0
            else:
                assert d is not None and prev_flat_grad is not None  # set at n_iter 1
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = dot(y, s)
                if ys > 1e-10:  # a pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / dot(y, y)
                # the two-loop recursion: d = −H g
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = dot(old_stps[i], q) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = dot(old_dirs[i], d) * ro[i]
                    d += (al[i] - be_i) * old_stps[i]
            prev_flat_grad, prev_loss = flat_grad, loss
            # the step length
            t = min(1.0, 1.0 / self._abs_sum(flat_grad)) * lr if state.n_iter == 1 else lr
            gtd = dot(flat_grad, d)
            if gtd > -tolerance_change:  # not a descent direction (enough)
                break
            ls_func_evals = 0
            if hyper["line_search_fn"] is not None:
                x_init = [self._xp.asarray(p.data, copy=True) for p in self.params]

                def obj_func(x: list[Array], t: float, d: Array) -> tuple[float, Array]:
                    return self._directional_evaluate(objective, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = self._abs_max(flat_grad) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last one's loss is the next step's first
                    loss = float(objective())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = self._abs_max(flat_grad) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state.func_evals += ls_func_evals
            # the stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if self._abs_max(d * t) <= tolerance_change:  # no progress in x
                break
            if abs(loss - prev_loss) < tolerance_change:  # nor in the loss
                break
        state.d, state.t, state.H_diag = d, t, h_diag
        state.old_dirs, state.old_stps, state.ro = old_dirs, old_stps, ro
        state.prev_flat_grad, state.prev_loss = prev_flat_grad, prev_loss
        return orig_loss

    def _gather_flat_grad(self) -> Array:
        xp = self._xp
        joined: Array = xp.concat([xp.reshape(p.grad, (-1,)) for p in self.params])
        return joined

    def _add_grad(self, step_size: float, update: Array) -> None:
        """x ← x + t d, parameter by parameter."""
        offset = 0
        for param in self.params:
            if not param.requires_grad:  # frozen: its zero gradient gives d = 0 there too
                offset += param.size
                continue
            k, tmp = self.workspace(param)
            view = self._xp.reshape(update[offset:offset + param.size], tuple(param.shape))
            k.add_(param.data, view, step_size, tmp)
            offset += param.size

    def _directional_evaluate(self, closure: Closure, x: list[Array], t: float,
                              d: Array) -> tuple[float, Array]:
        """The loss and gradient at x + t d; the parameters are then put back to x."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for param, data in zip(self.params, x):
            self.workspace(param)[0].copy_(param.data, data)
        return loss, flat_grad

    def _abs_max(self, vector: Array) -> float:
        return float(self._xp.max(self._xp.abs(vector)))

    def _abs_sum(self, vector: Array) -> float:
        return float(self._xp.sum(self._xp.abs(vector)))

    # -- state -----------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Array]:
        h, size = self.history, self._size
        dtype = backend.numpy_dtype(self.params[0].data.dtype)

        def vectors(arrays: list[Array]) -> Array:
            if not arrays:
                return np.zeros((0, size), dtype)
            return np.stack([backend.to_numpy(a) for a in arrays])

        zeros = np.zeros(size, dtype)
        return {
            "state.0.func_evals": np.array(h.func_evals, dtype=np.int64),
            "state.0.n_iter": np.array(h.n_iter, dtype=np.int64),
            "state.0.d": zeros if h.d is None else backend.to_numpy(h.d),
            "state.0.t": np.array(h.t, dtype=np.float64),
            "state.0.old_dirs": vectors(h.old_dirs),
            "state.0.old_stps": vectors(h.old_stps),
            "state.0.ro": np.array(h.ro, dtype=np.float64).reshape(-1),
            "state.0.H_diag": np.array(h.H_diag, dtype=np.float64),
            "state.0.prev_flat_grad": (zeros if h.prev_flat_grad is None
                                       else backend.to_numpy(h.prev_flat_grad)),
            "state.0.prev_loss": np.array(h.prev_loss, dtype=np.float64),
        }

    def check_extra_state(self, owner: str, state: Mapping[str, Array]) -> Callable[[], None]:
        dtype = backend.numpy_dtype(self.params[0].data.dtype)
        pairs = state["state.0.ro"].shape[0] if state["state.0.ro"].ndim == 1 else -1
        shapes = {**{f"state.0.{n}": ((), np.dtype(np.int64)) for n in _COUNTS},
                  **{f"state.0.{n}": ((), np.dtype(np.float64)) for n in _NUMBERS},
                  **{f"state.0.{n}": ((self._size,), dtype) for n in _ARRAYS},
                  **{f"state.0.{n}": ((pairs, self._size), dtype) for n in _PAIRS},
                  "state.0.ro": ((pairs,), np.dtype(np.float64))}
        for key, (shape, kind) in shapes.items():
            value = state[key]
            if value.shape != shape or value.dtype != kind:
                raise ValueError(f"{owner}: {key!r} has shape {value.shape} and dtype "
                                 f"{value.dtype}, expected {shape} and {kind}")
            if not np.isfinite(value).all():
                raise ValueError(f"{owner}: {key!r} has non-finite values")
        counts = {n: int(state[f"state.0.{n}"]) for n in _COUNTS}
        if min(counts.values()) < 0:
            raise ValueError(f"{owner}: the counts must be >= 0, got {counts}")
        numbers = {n: float(state[f"state.0.{n}"]) for n in _NUMBERS}
        xp, where = self._xp, backend.device(self.params[0].data)

        def moved(array: npt.NDArray[Any]) -> Array:
            placed: Array = backend.asarray(array, xp, where)
            return placed

        def write() -> None:
            started = counts["n_iter"] > 0
            self.history = History(
                func_evals=counts["func_evals"], n_iter=counts["n_iter"], t=numbers["t"],
                H_diag=numbers["H_diag"], prev_loss=numbers["prev_loss"],
                d=moved(state["state.0.d"]) if started else None,
                prev_flat_grad=moved(state["state.0.prev_flat_grad"]) if started else None,
                old_dirs=[moved(row) for row in state["state.0.old_dirs"]],
                old_stps=[moved(row) for row in state["state.0.old_stps"]],
                ro=[float(r) for r in state["state.0.ro"]])

        return write

    def state_dict(self) -> dict[str, Array]:
        state = super().state_dict()
        # None is no ndarray without Python objects: "" stands for it.
        state["param_groups.0.line_search_fn"] = np.array(self.line_search_fn or "")
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        key, owner = "param_groups.0.line_search_fn", "LBFGS.load_state_dict"
        if key not in state:  # the base names it among the missing keys
            super().load_state_dict(state)
            return
        saved = _as_numpy(state[key])
        if saved.shape != () or saved.dtype.kind != "U" or str(saved) not in ("", "strong_wolfe"):
            raise ValueError(f"{owner}: {key!r} must be '' (None) or 'strong_wolfe', got "
                             f"{saved.tolist()!r}")
        pairs, limit = (_as_numpy(state.get(k, np.zeros(0))) for k in
                        ("state.0.ro", "param_groups.0.history_size"))
        if limit.shape == () and limit.dtype.kind == "i" and len(pairs.reshape(-1)) > limit:
            # (other faults of these keys are named by the checks below)
            raise ValueError(f"{owner}: the state holds {len(pairs.reshape(-1))} pairs, more "
                             f"than its history_size {int(limit)}")
        current = np.asarray(self.param_groups[0].hyper["line_search_fn"])
        super().load_state_dict({**state, key: current})  # checks (and loads) all the rest
        self.set_hyperparameters({"line_search_fn": str(saved) or None})
