"""The foundation every other module builds on: `Parameter`, `Module` and `Layer`.

A *module* is anything that owns parameters or contains other modules; a *layer* is a
module with a hand-written ``forward``/``backward`` pair on one input; a *merge layer*
has such a pair on several inputs (returning one gradient per input). The base knows
nothing of any concrete layer, container, loss or optimizer. Its modules, all
re-exported here: `minigrad.core.parameter` (`Parameter`, `Buffer`), `minigrad.core.module`
(`Module`, and the conventions and sharing rule every layer keeps), `minigrad.core.tree`
(the cached flat view of a tree, `retain_graph`), `minigrad.core.checks` (argument and
input validation), `minigrad.core.state` (what `load_state_dict` checks) and this one
(`Layer`, `MergeLayer`, `check_arity`).
"""

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
