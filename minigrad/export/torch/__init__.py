"""`to_torch` and `load_torch_state_dict`: a minigrad model as a ``torch.nn.Module``, and
PyTorch's weights back into minigrad.

Where a layer's converter comes from, in this order:

1. the layer's own method ``to_torch(self, convert) -> torch.nn.Module`` -- the hook for
   your layers; ``convert(child)`` converts a sub-module (a shared one once); and, if the
   layer has parameters or buffers of its own, ``from_torch_state(self, state) -> dict``:
   its module's PyTorch state (keys relative to it, NumPy arrays) as this layer's
   ``state_dict`` entries, for `load_torch_state_dict`;
2. the registries `TORCH_CONVERTERS` and `TORCH_STATE_CONVERTERS`, keyed by the exact
   layer type -- where the built-in layers plug in, with ``@register_torch(LayerType)``.

A layer with neither is refused with an error naming it and the hook.

The package: `convert` (the registries, `to_torch`, `load_torch_state_dict`, the
structural layers' converters), `activations`, `layers`, `pooling` (the other families'
converters) and `attention` (the attention and transformer layers'), registered below,
explicitly, once the registries exist.
"""

# The built-in converters of the other families: importing a module registers them.
from minigrad.export.torch import activations, attention, layers, pooling  # noqa: F401
from minigrad.export.torch.convert import (
    TORCH_CONVERTERS,
    TORCH_STATE_CONVERTERS,
    load_torch_state_dict,
    register_torch,
    to_torch,
)

__all__ = [
    "TORCH_CONVERTERS",
    "TORCH_STATE_CONVERTERS",
    "load_torch_state_dict",
    "register_torch",
    "to_torch",
]
