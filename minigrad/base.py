"""`minigrad.base`, the documented import path of what a layer author uses: `Layer`,
`MergeLayer`, `Parameter`, `Buffer`, the input checks (`as_batch`, `as_grad`, ...). They
live in the core package, `minigrad.core`."""

from minigrad.core import *  # noqa: F403 -- the same names, by design
from minigrad.core import __all__ as __all__
