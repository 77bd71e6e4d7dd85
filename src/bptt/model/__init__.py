"""A recurrent model: optional embedding, stacked (bidirectional) cells, a Dense readout."""

from bptt.model.config import READOUTS, ModelConfig
from bptt.model.model import Model, ModelCache
from bptt.model.reverse import reverse_index

__all__ = ["READOUTS", "Model", "ModelCache", "ModelConfig", "reverse_index"]
