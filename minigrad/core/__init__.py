"""The foundation every other module builds on: `Parameter`, `Module` and `Layer`.

A *module* is anything that owns parameters or contains other modules; a *layer* is a
module with a hand-written ``forward``/``backward`` pair on one input; a *merge layer*
has such a pair on several inputs (returning one gradient per input). The base knows
nothing of any concrete layer, container, loss or optimizer. Its modules, re-exported
here: `minigrad.core.parameter` (`Parameter`, `Buffer`), `minigrad.core.module` (`Module`,
and the conventions and sharing rule every layer keeps), `minigrad.core.layer` (`Layer`,
`MergeLayer`, `check_arity`) and `minigrad.core.checks` (argument and input validation);
`minigrad.core.exports` is how this package and every other re-exports its names: each
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minigrad.core.exports import lazy_exports

_HOMES: dict[str, tuple[str, ...]] = {
    "minigrad.core.checks": (
        "as_batch", "as_grad", "check_bool", "check_count", "check_finite_state",
        "check_non_negative", "check_number", "check_positive", "check_same_place", "describe",
        "expected_shape", "name_list", "raise_located", "validate_input",
    ),
    "minigrad.core.layer": ("Layer", "MergeLayer", "check_arity"),
    "minigrad.core.module": ("CacheT", "Module"),
    "minigrad.core.parameter": ("Array", "Buffer", "Parameter", "check_parameter_dtype"),
    "minigrad.core.tree": ("retain_graph", "structure_changed"),
}

if TYPE_CHECKING:
    from minigrad.core.checks import (
        as_batch,
        as_grad,
        check_bool,
        check_count,
        check_finite_state,
        check_non_negative,
        check_number,
        check_positive,
        check_same_place,
        describe,
        expected_shape,
        name_list,
        raise_located,
        validate_input,
    )
    from minigrad.core.layer import Layer, MergeLayer, check_arity
    from minigrad.core.module import CacheT, Module
    from minigrad.core.parameter import Array, Buffer, Parameter, check_parameter_dtype
    from minigrad.core.tree import retain_graph, structure_changed

__all__ = [
    "Array",
    "Buffer",
    "CacheT",
    "Layer",
    "MergeLayer",
    "Module",
    "Parameter",
    "as_batch",
    "as_grad",
    "check_arity",
    "check_bool",
    "check_count",
    "check_finite_state",
    "check_non_negative",
    "check_number",
    "check_parameter_dtype",
    "check_positive",
    "check_same_place",
    "describe",
    "expected_shape",
    "name_list",
    "raise_located",
    "retain_graph",
    "structure_changed",
    "validate_input",
]

if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
