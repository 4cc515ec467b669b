"""`lazy_exports`: how minigrad's packages export their names -- each imported on first use.

A package re-exports names defined in its modules (``mg.Dense`` is
`minigrad.layers.dense.Dense`). Imported eagerly, ``import minigrad`` would load every
family -- convolutions, checkpoints, exporters -- whatever the script uses; lazily (PEP
562's module ``__getattr__``), a script pays for the families it touches, and the blog
net loads its five layers, `MSELoss` and `SGD`. A package lists where each name is
defined, one entry per module, mirrors the table with imports that only type checkers run
(so ``mypy --strict``, ruff and the API reference see every name), and lists the names in
``__all__``::

    _HOMES = {"minigrad.optim.sgd": ("SGD",), "minigrad.optim.adaptive": ("Adam", ...)}

    if TYPE_CHECKING:
        from minigrad.optim.adaptive import Adam, ...
        from minigrad.optim.sgd import SGD

    __all__ = ["Adam", ..., "SGD"]

    if not TYPE_CHECKING:  # a module __getattr__ would let mypy accept any misspelt name
        __getattr__, __dir__ = lazy_exports(globals(), _HOMES)

tests/test_lazy_imports.py checks, for every package built this way, that the table, the
imports and ``__all__`` name the same names and that each resolves to its definition.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is
    ``namespace``, which exports the names of ``homes`` (module -> the names it defines).

    ``__getattr__(name)`` -- called only for a name not yet in the namespace -- imports
    the module defining ``name``, stores the value in the namespace (so later uses, and
    ``from package import name``, find it directly) and returns it. A name in no module
    of ``homes`` may be a submodule (``mg.layers``, ``mg.export``), imported the same
    way; anything else raises `AttributeError`. ``__dir__`` lists the exported names,
    imported or not.
    """
    package = namespace["__name__"]
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807  # PEP 562's name
        module = home_of.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name.startswith("_"):  # probes such as __wrapped__ or __path__ name no module
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        else:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as error:
                if error.name != f"{package}.{name}":
                    raise  # the submodule exists; something it imports is missing
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807  # PEP 562's name
        return sorted({*namespace, *namespace.get("__all__", ()), *home_of})

    return __getattr__, __dir__
