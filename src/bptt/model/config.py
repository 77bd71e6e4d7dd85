"""ModelConfig: everything that fixes a model's architecture, checked when it is made."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bptt.cells import make_cell
from bptt.errors import BpttError
from bptt.model.pooling import POOLINGS

READOUTS = ("all", "last", "none", *POOLINGS)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's architecture.

    Attributes:
        cell: "rnn" (tanh), "relu", "irnn" (ReLU with identity init), "lstm" or "gru".
        hidden_size: H, units per direction.
        input_size: D for float inputs (T, B, D); ignored when ``vocab_size`` is set.
        vocab_size: V; inputs are then (T, B) token ids looked up in an embedding.
        embed_size: E, width of the embedding.
        num_layers: stacked recurrent layers.
        bidirectional: add a reverse-time direction to every layer (outputs concatenated).
        dropout: inverted dropout on the outputs of every layer but the last, in training.
        output_size: O of the Dense readout; None for no readout (the model returns hs).
        readout: "all" (a prediction at every step, (T, B, O)) or "last" (one per sequence from
            the final carries: the last valid step forward, the first valid step in reverse);
            or one per sequence from a summary of its valid steps (``bptt.model.pooling``):
            "mean", "max", "meanmax" (both, side by side) or "attention".
        readout_dropout: inverted dropout on what the Dense readout reads (the top layer's
            outputs, final states or pooled vector), in training.
        forget_bias: LSTM forget-gate bias at initialisation.
    """

    cell: str = "lstm"
    hidden_size: int = 128
    input_size: int | None = None
    vocab_size: int | None = None
    embed_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    output_size: int | None = None
    readout: str = "all"
    forget_bias: float = 1.0
    readout_dropout: float = 0.0

    def __post_init__(self) -> None:
        make_cell(self.cell)  # an unknown name or a user cell that cannot be built: BpttError
        for name in ("hidden_size", "num_layers", "embed_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BpttError(f"`{name}` must be a positive integer, got {value!r}.")
        if self.vocab_size is None and self.input_size is None:
            raise BpttError(
                "Set `input_size` (features per step) or `vocab_size` (token ids) in ModelConfig."
            )
        for name in ("input_size", "vocab_size", "output_size"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise BpttError(f"`{name}` must be a positive integer or None, got {value!r}.")
        if not (isinstance(self.forget_bias, int | float) and math.isfinite(self.forget_bias)):
            raise BpttError(f"`forget_bias` must be a finite number, got {self.forget_bias!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise BpttError(f"`dropout` must be in [0, 1), got {self.dropout}.")
        if not 0.0 <= self.readout_dropout < 1.0:
            raise BpttError(f"`readout_dropout` must be in [0, 1), got {self.readout_dropout}.")
        if self.readout not in READOUTS:
            raise BpttError(f"`readout` must be one of {READOUTS}, got {self.readout!r}.")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def pooled(self) -> bool:
        """Whether the readout summarises every valid step (mean, max, meanmax, attention)."""
        return self.readout in POOLINGS

    @property
    def layer_input_size(self) -> int:
        return self.embed_size if self.vocab_size is not None else int(self.input_size)
