"""Recurrent layers, batch-first, in PyTorch's gate order and parameter layout.

* `loop` -- `Recurrent`: the parameters, the input projection over all steps at once,
  the loop over time and back-propagation through time, shared by every cell;
* `cells` -- `RNN`, `LSTM`, `GRU`: one step of each cell forward, and its derivative.
"""

from minigrad.layers.recurrent.cells import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN"]
