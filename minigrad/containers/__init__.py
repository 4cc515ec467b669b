"""Containers: layers made of layers, themselves layers.

* `sequential` -- `Sequential` (``forward``: each layer in turn; ``backward``: each in
  reverse) and the `Container` base it shares with `Graph`;
* `graph` -- `Graph`: a directed acyclic graph of named nodes (residual blocks, merges).
"""

from minigrad.containers.graph import Graph
from minigrad.containers.sequential import Container, Sequential

__all__ = ["Container", "Graph", "Sequential"]
