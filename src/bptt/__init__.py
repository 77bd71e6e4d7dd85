"""bptt: recurrent networks trained with hand-written Backpropagation Through Time."""

from bptt.cells import GRUCell, LSTMCell, RNNCell, make_cell
from bptt.engine import backward, forward, zero_carry

__version__ = "0.1.0"

__all__ = [
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "__version__",
    "backward",
    "forward",
    "make_cell",
    "zero_carry",
]
