"""A model's weights as a ``safetensors`` file with PyTorch's names, and back.

The file holds the recurrent stack under the names of ``torch.nn.RNN/LSTM/GRU``'s state dict
(``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``; see
``bptt.interop``), and the rest under the names of the torch modules that compute it:

    embedding.weight   (V, E)       torch.nn.Embedding     = embedding.W
    readout.weight     (O, H_out)   torch.nn.Linear        = readout.W.T
    readout.bias       (O,)                                = readout.b

so ``torch.nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path))`` loads a model
without embedding and readout as is (``rnn_only=True`` writes only the stack for any model),
and ``bptt.export.torch_module`` loads the whole file. The metadata holds the ModelConfig
(``bptt.model_config``, JSON) and a text model's vocabulary (``bptt.vocab``), so
``load_safetensors`` rebuilds the model without being told its architecture. Reading and
writing use ``safetensors.numpy``: torch is not needed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttFileNotFoundError
from bptt.export.exportable import Exportable, check_exportable, require
from bptt.interop import from_torch_state_dict, to_torch_state_dict
from bptt.model import Model, ModelConfig
from bptt.types import Array, Params

CONFIG_KEY, VOCAB_KEY = "bptt.model_config", "bptt.vocab"
OTHER_KEYS = ("embedding.weight", "readout.weight", "readout.bias")


def torch_named(model: Model, params: Params, *, rnn_only: bool = False) -> dict[str, Array]:
    """``params`` under PyTorch's names (see the module docstring), contiguous NumPy arrays."""
    check_exportable(model, params)
    named = to_torch_state_dict(params, model.config.cell)
    if not rnn_only:
        if "embedding.W" in params:
            named["embedding.weight"] = params["embedding.W"]
        if "readout.W" in params:
            named["readout.weight"] = params["readout.W"].T
            named["readout.bias"] = params["readout.b"]
    return {k: np.ascontiguousarray(v) for k, v in named.items()}


def from_torch_named(named: Mapping[str, Array], cell: str) -> Params:
    """Inverse of ``torch_named``: bptt's parameter names, in ``Model.init``'s order."""
    stack = {k: np.asarray(v) for k, v in named.items() if k not in OTHER_KEYS}
    params: Params = {}
    if "embedding.weight" in named:
        params["embedding.W"] = np.asarray(named["embedding.weight"])
    params.update(from_torch_state_dict(stack, cell))
    if "readout.weight" in named:
        params["readout.W"] = np.ascontiguousarray(np.asarray(named["readout.weight"]).T)
        params["readout.b"] = np.asarray(named["readout.bias"])
    return params


def save_safetensors(
    model: Model,
    params: Params,
    path: str | Path,
    *,
    rnn_only: bool = False,
    vocab: list[str] | None = None,
    dtype: Any = None,
) -> Path:
    """Write ``params`` to ``path`` as safetensors with PyTorch's names.

    Args:
        model, params: a model with a built-in cell and its parameters.
        path: the file to write (``.safetensors``).
        rnn_only: write only the recurrent stack, exactly a ``torch.nn.RNN/LSTM/GRU`` state
            dict (no embedding, no readout, no metadata).
        vocab: a text model's vocabulary, kept in the metadata.
        dtype: cast every array to it (float32, float64); None keeps the parameters' dtype.

    Returns:
        The path written.
    """
    numpy_st = require("safetensors.numpy", "safetensors export")
    errors = (OSError, require("safetensors", "safetensors export").SafetensorError)
    named = torch_named(model, params, rnn_only=rnn_only)
    if dtype is not None:
        named = {k: v.astype(dtype) for k, v in named.items()}
    metadata = {"format": "pt"}
    if not rnn_only:
        metadata[CONFIG_KEY] = json.dumps(dataclasses.asdict(model.config))
        if vocab is not None:
            metadata[VOCAB_KEY] = json.dumps(list(vocab))
    path = Path(path)
    try:
        numpy_st.save_file(named, str(path), metadata=metadata)
    except errors as error:
        raise BpttError(f"Cannot write {path}: {error}. Is its directory there?") from None
    return path


def load_safetensors(path: str | Path, *, cell: str | None = None) -> Exportable:
    """Read a safetensors file written by ``save_safetensors`` or from a torch state dict.

    Args:
        path: the file.
        cell: the cell name ("rnn", "relu", "lstm", "gru") of a file without bptt metadata
            (e.g. ``safetensors.torch.save_file(torch_lstm.state_dict(), path)``); checked
            against the metadata when both are there.

    Returns:
        Exportable(model, params, vocab). For a file without metadata the model is rebuilt
        from the shapes: one ``input_size`` model with the file's layers, directions, and an
        embedding and readout when the file has them.

    Raises:
        BpttFileNotFoundError: no such file.
        BpttError: an unreadable file, weights that are not a recurrent stack, or no cell.
    """
    safetensors = require("safetensors", "safetensors import")
    path = Path(path)
    if not path.is_file():
        raise BpttFileNotFoundError(f"safetensors file {path} does not exist.")
    try:
        with safetensors.safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            named = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (OSError, safetensors.SafetensorError) as error:
        raise BpttError(f"Cannot read {path} as safetensors ({error}).") from None
    saved = json.loads(metadata[CONFIG_KEY]) if CONFIG_KEY in metadata else None
    if saved is not None and cell is not None and saved["cell"] != cell:
        raise BpttError(f"{path} holds a {saved['cell']!r} model, not {cell!r}.")
    if saved is None and cell is None:
        raise BpttError(
            f"{path} has no bptt metadata; pass `cell` (rnn, relu, lstm or gru) to say "
            "which torch module its weights come from."
        )
    config = ModelConfig(**saved) if saved is not None else _config_from_shapes(named, cell)
    params = from_torch_named(named, config.cell)
    model = Model(config)
    check_exportable(model, params)
    vocab = json.loads(metadata[VOCAB_KEY]) if VOCAB_KEY in metadata else None
    return Exportable(model, params, vocab)


def _config_from_shapes(named: Mapping[str, Array], cell: str) -> ModelConfig:
    """The ModelConfig that fits a torch state dict's shapes (no metadata to read it from)."""
    if "weight_ih_l0" not in named:
        raise BpttError("The file holds no `weight_ih_l0`: it is not a torch RNN/LSTM/GRU.")
    D = named["weight_ih_l0"].shape[1]
    H = named["weight_hh_l0"].shape[1]
    layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in named if "_l" in k)
    kwargs: dict[str, Any] = {}
    if "embedding.weight" in named:
        kwargs["vocab_size"], kwargs["embed_size"] = named["embedding.weight"].shape
    else:
        kwargs["input_size"] = D
    if "readout.weight" in named:
        kwargs["output_size"] = named["readout.weight"].shape[0]
    return ModelConfig(
        cell=cell,
        hidden_size=H,
        num_layers=layers,
        bidirectional="weight_ih_l0_reverse" in named,
        **kwargs,
    )
