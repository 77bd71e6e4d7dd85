"""Recurrent cells: one time step of math, forward and backward, as pure functions."""

from bptt.cells.gru import GRUCache, GRUCarry, GRUCell, GRUParams
from bptt.cells.lstm import LSTMCache, LSTMCarry, LSTMCell, LSTMParams
from bptt.cells.rnn import RNNCache, RNNCarry, RNNCell, RNNParams
from bptt.errors import BpttError

CELL_NAMES = ("rnn", "relu", "irnn", "lstm", "gru")


def make_cell(name: str, *, forget_bias: float = 1.0) -> RNNCell | LSTMCell | GRUCell:
    """The cell for a name: "rnn" (tanh), "relu" and "irnn" (ReLU RNN), "lstm", "gru"."""
    if name == "rnn":
        return RNNCell("tanh")
    if name in ("relu", "irnn"):
        return RNNCell("relu")
    if name == "lstm":
        return LSTMCell(forget_bias=forget_bias)
    if name == "gru":
        return GRUCell()
    raise BpttError(f"Unknown cell {name!r}; expected one of {', '.join(CELL_NAMES)}.")


__all__ = [
    "CELL_NAMES",
    "GRUCache",
    "GRUCarry",
    "GRUCell",
    "GRUParams",
    "LSTMCache",
    "LSTMCarry",
    "LSTMCell",
    "LSTMParams",
    "RNNCache",
    "RNNCarry",
    "RNNCell",
    "RNNParams",
    "make_cell",
]
