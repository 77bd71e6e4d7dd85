"""bptt: recurrent networks trained with hand-written Backpropagation Through Time.

The public names below are imported on first use (PEP 562), so that ``import bptt.cli`` (the
command line) starts without loading NumPy and the library before its signal handlers exist.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_NAMES = {
    "GRUCell": "bptt.cells",
    "LSTMCell": "bptt.cells",
    "RNNCell": "bptt.cells",
    "make_cell": "bptt.cells",
    "backward": "bptt.engine",
    "forward": "bptt.engine",
    "zero_carry": "bptt.engine",
    "cut": "bptt.engine.truncated",
    "schedule": "bptt.engine.truncated",
    "from_torch_state_dict": "bptt.interop",
    "to_torch_state_dict": "bptt.interop",
    "mse": "bptt.losses",
    "softmax_cross_entropy": "bptt.losses",
    "Model": "bptt.model",
    "ModelConfig": "bptt.model",
}

__all__ = sorted([*_NAMES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bptt' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
