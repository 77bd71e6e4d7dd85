"""bptt: recurrent networks trained with hand-written Backpropagation Through Time."""

from bptt.cells import GRUCell, LSTMCell, RNNCell, make_cell
from bptt.engine import backward, forward, zero_carry
from bptt.engine.truncated import cut, schedule
from bptt.interop import from_torch_state_dict, to_torch_state_dict
from bptt.losses import mse, softmax_cross_entropy
from bptt.model import Model, ModelConfig

__version__ = "0.1.0"

__all__ = [
    "GRUCell",
    "LSTMCell",
    "Model",
    "ModelConfig",
    "RNNCell",
    "__version__",
    "backward",
    "cut",
    "forward",
    "from_torch_state_dict",
    "make_cell",
    "mse",
    "schedule",
    "softmax_cross_entropy",
    "to_torch_state_dict",
    "zero_carry",
]
