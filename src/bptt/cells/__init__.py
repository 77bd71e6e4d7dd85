"""Recurrent cells: one time step of math, forward and backward, as pure functions."""

import importlib
from typing import Any

from bptt.cells.gru import GRUCache, GRUCarry, GRUCell, GRUParams
from bptt.cells.lstm import LSTMCache, LSTMCarry, LSTMCell, LSTMParams
from bptt.cells.rnn import RNNCache, RNNCarry, RNNCell, RNNParams
from bptt.errors import BpttError
from bptt.types import CELL_METHODS

CELL_NAMES = ("rnn", "relu", "irnn", "lstm", "gru")
"""The built-in cells by name; any other cell is named "package.module:ClassName"."""


def make_cell(name: str, *, forget_bias: float = 1.0) -> Any:
    """The cell for a name.

    Args:
        name: "rnn" (tanh), "relu" and "irnn" (ReLU RNN), "lstm", "gru", or
            "package.module:ClassName" for a user-defined cell class that follows the Cell
            protocol (bptt.types.Cell) and is built without arguments.
        forget_bias: the LSTM's forget-gate bias at initialisation.

    Raises:
        BpttError: an unknown name, a module that cannot be imported or a class it lacks.
    """
    if name == "rnn":
        return RNNCell("tanh")
    if name in ("relu", "irnn"):
        return RNNCell("relu")
    if name == "lstm":
        return LSTMCell(forget_bias=forget_bias)
    if name == "gru":
        return GRUCell()
    if isinstance(name, str) and name.count(":") == 1:
        return _user_cell(name)
    raise BpttError(
        f"Unknown cell {name!r}; expected one of {', '.join(CELL_NAMES)}, or "
        "'package.module:ClassName' for a cell class of your own."
    )


def _user_cell(spec: str) -> Any:
    """An instance of the class that ``spec`` ("package.module:ClassName") names."""
    module_name, class_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise BpttError(
            f"Cell {spec!r}: module {module_name!r} cannot be imported ({error}). Install it, "
            "or run from the directory that holds it."
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise BpttError(f"Cell {spec!r}: module {module_name!r} has no class {class_name!r}.")
    missing = [m for m in CELL_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise BpttError(
            f"Cell {spec!r} lacks {missing}: a cell follows the Cell protocol "
            "(bptt.types.Cell): " + ", ".join(CELL_METHODS) + "."
        )
    return cls()


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
