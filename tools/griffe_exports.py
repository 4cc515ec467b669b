"""Griffe extension for the API reference: a submodule is public only if exported.

Griffe treats every submodule without a leading underscore as public, whatever the
package's ``__all__`` says, so ``show_submodules`` would also render ``minigrad.base``,
``minigrad.layers``... whose classes the reference already shows under their exported
names. This marks each submodule public exactly when ``minigrad.__all__`` lists it
(``init``, ``testing``), so the reference is ``__all__`` and nothing else -- and a
name someone adds there appears without touching ``docs/api.md``.

Loaded by mkdocstrings from ``mkdocs.yml``; needs the ``docs`` extra, not the tests.
"""

from __future__ import annotations

from typing import Any

import griffe


class ExportedSubmodulesOnly(griffe.Extension):
    """Set ``public`` on each submodule of a package from the package's ``__all__``."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        exports = {str(name) for name in pkg.exports or ()}
        for name, module in pkg.modules.items():
            module.public = name in exports
