"""`Sequential`'s release plan (`minigrad.containers.sequential.plan_of`) is found before
the backward's loop: an error in finding it -- a module whose children cannot be read --
comes out as itself, not as a failure to name the position it happened at."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import minigrad as mg
from minigrad.core.tree import structure_changed


class _Unreadable(mg.Identity):
    """An Identity whose children cannot be listed once ``broken``."""

    broken = False

    def named_children(self) -> Iterator[tuple[str, mg.Module]]:
        if self.broken:
            raise RuntimeError("children unreadable")
        return super().named_children()


@pytest.mark.parametrize("method", ["backward", "backward_params"])
def test_an_error_while_finding_the_plan_is_raised_as_it_is(method: str) -> None:
    odd = _Unreadable()
    model = mg.Sequential(mg.Dense(2, 2, rng=0), odd)
    model(np.ones((1, 2)))
    odd.broken = True
    structure_changed()  # the cached tree is rebuilt, and the walk meets the error
    with pytest.raises(RuntimeError, match="children unreadable"):
        getattr(model, method)(np.ones((1, 2)))
