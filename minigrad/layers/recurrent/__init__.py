"""Recurrent layers, batch-first, in PyTorch's gate order, options and parameter layout.

* `recurrences` -- each cell's recurrence: one step forward over the batch, run over
  time, and its derivative (RNN, LSTM with its projection, GRU);
* `loop` -- the time loop of one direction of one layer (the input projection over all
  steps at once, the recurrence, backpropagation through time) and what the layers
  share around it: drawing the parameters, reading a state;
* `stacked` -- `Recurrent`: layers and directions composed of that loop, dropout
  between layers, states in PyTorch's layout;
* `cells` -- `RNN`, `LSTM`, `GRU`, the sequence layers;
* `step` -- `RNNCell`, `LSTMCell`, `GRUCell`: one step, as a layer of its own.
"""

from minigrad.layers.recurrent.cells import GRU, LSTM, RNN
from minigrad.layers.recurrent.step import GRUCell, LSTMCell, RNNCell

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]
