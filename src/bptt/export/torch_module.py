"""A ready ``torch.nn.Module`` that computes a bptt model: embedding, RNN/LSTM/GRU, readout.

    module = torch_module_from_checkpoint("runs/latest")     # or torch_module(model, params)
    outputs, state = module(inputs)                          # time-major, like Model.forward
    outputs, state = module(more, state)                     # the state carried on
    outputs, state = module(padded, lengths=lengths)         # right-padded sequences

The module holds ``embedding`` (torch.nn.Embedding, text models), ``rnn`` (torch.nn.RNN with
tanh or ReLU, LSTM or GRU, time-major, with the model's layers, directions and inter-layer
dropout) and ``readout`` (torch.nn.Linear); its state dict therefore names the stack
``rnn.weight_ih_l0``, ... Its outputs are those of ``Model.forward`` at evaluation time:
(T, B, O) for readout "all" (padded steps give ``readout.bias``, as in bptt), (B, O) for
"last" from the final states (the last valid step forward, the first in reverse: what
pack_padded_sequence gives), the top layer's outputs without a readout. ``state`` is h_n, or
(h_n, c_n) for the LSTM, (L*dirs, B, H) like torch's.

torch is imported only when a module is built (``pip install torch``).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np

from bptt.export.exportable import check_exportable, from_checkpoint, require
from bptt.export.safetensors import load_safetensors, torch_named
from bptt.model import Model
from bptt.types import Params

NONLINEARITY = {"rnn": "tanh", "relu": "relu", "irnn": "relu"}


@functools.cache
def _module_class() -> type:
    """The torch.nn.Module subclass, defined on first use so that torch stays optional."""
    torch = require("torch", "A torch module")
    nn = torch.nn

    class BpttModule(nn.Module):
        """A bptt model in torch; see ``bptt.export.torch_module``."""

        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__()
            self.config = dict(config)
            cell, H = config["cell"], config["hidden_size"]
            if config["vocab_size"] is not None:
                self.embedding = nn.Embedding(config["vocab_size"], config["embed_size"])
                D = config["embed_size"]
            else:
                D = config["input_size"]
            kwargs = {
                "num_layers": config["num_layers"],
                "bidirectional": config["bidirectional"],
                "dropout": config["dropout"] if config["num_layers"] > 1 else 0.0,
            }
            if cell in NONLINEARITY:
                self.rnn = nn.RNN(D, H, nonlinearity=NONLINEARITY[cell], **kwargs)
            else:
                self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](D, H, **kwargs)
            self.directions = 2 if config["bidirectional"] else 1
            self.readout = None  # readout "none" keeps the weights but returns the states
            if config["output_size"] is not None:
                self.readout = nn.Linear(H * self.directions, config["output_size"])

        def forward(self, inputs: Any, state: Any = None, lengths: Any = None) -> Any:
            """(outputs, state) for inputs (T, B, D) floats or (T, B) int64 token ids.

            Args:
                inputs: time-major.
                state: h_0, or (h_0, c_0) for the LSTM, (L*dirs, B, H); zeros when None.
                lengths: (B,) valid steps of right-padded sequences; every step when None.
            """
            xs = self.embedding(inputs) if hasattr(self, "embedding") else inputs
            T = xs.shape[0]
            if lengths is None:
                hs, state_n = self.rnn(xs, state)
            else:
                lengths = torch.as_tensor(lengths, dtype=torch.int64, device="cpu")
                packed = nn.utils.rnn.pack_padded_sequence(xs, lengths, enforce_sorted=False)
                hs, state_n = self.rnn(packed, state)
                hs = nn.utils.rnn.pad_packed_sequence(hs, total_length=T)[0]  # (T, B, H_out)
            if self.config["readout"] == "last":
                h_n = state_n[0] if isinstance(state_n, tuple) else state_n
                top = h_n[-self.directions :]  # (dirs, B, H)
                hs = top.permute(1, 0, 2).reshape(top.shape[1], -1)  # (B, dirs*H)
            if self.readout is None or self.config["readout"] == "none":
                return hs, state_n
            return self.readout(hs), state_n

    return BpttModule


def torch_module(model: Model, params: Params, *, dtype: Any = None) -> Any:
    """A torch.nn.Module (in eval mode) computing ``model`` with ``params``.

    Args:
        model, params: a model with a built-in cell and its parameters.
        dtype: a torch dtype (torch.float64, ...); None keeps the parameters' dtype.

    Raises:
        BpttError: a model that cannot be exported; MissingExtraError: torch is missing.
    """
    torch = require("torch", "A torch module")
    check_exportable(model, params)
    module = _module_class()(dataclasses.asdict(model.config))
    named = torch_named(model, params)
    state = {
        (k if k.startswith(("embedding.", "readout.")) else f"rnn.{k}"): torch.from_numpy(
            np.array(v)
        )
        for k, v in named.items()
    }
    first = next(iter(state.values()))
    module = module.to(first.dtype if dtype is None else dtype)
    module.load_state_dict({k: v.to(module.rnn.weight_ih_l0.dtype) for k, v in state.items()})
    return module.eval()


def torch_module_from_checkpoint(path: str | Path, *, dtype: Any = None) -> Any:
    """``torch_module`` of a checkpoint file or run directory."""
    model, params, _ = from_checkpoint(path)
    return torch_module(model, params, dtype=dtype)


def torch_module_from_safetensors(path: str | Path, *, cell: str | None = None) -> Any:
    """``torch_module`` of a safetensors file (see ``load_safetensors``)."""
    model, params, _ = load_safetensors(path, cell=cell)
    return torch_module(model, params)
