"""What can leave bptt: a built-in model at evaluation time, checked once before any export.

Every exporter (ONNX, safetensors, torch) starts from an ``Exportable``: the Model, its
parameters and, for a text model, its vocabulary. ``check_exportable`` refuses what another
framework could not compute the same way:

- a user-defined cell ("package.module:ClassName"): its math lives in Python code of its own;
- a ModelConfig field this exporter does not know, set away from its default (a regulariser
  or a normalised cell added after this exporter was written): its evaluation-time meaning
  is not written here, so it is refused rather than silently dropped;
- parameters that are not exactly the ones ``Model.init`` makes.

Dropout between layers is the identity at evaluation time and exports as nothing;
``forget_bias`` only sets the initial LSTM bias and is already inside ``layers.*.b``.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.cells import CELL_NAMES
from bptt.errors import BpttError, MissingExtraError
from bptt.model import Model, ModelConfig
from bptt.types import Params

EXPORTED_FIELDS = frozenset(
    {
        "cell",
        "hidden_size",
        "input_size",
        "vocab_size",
        "embed_size",
        "num_layers",
        "bidirectional",
        "dropout",  # inverted dropout: the identity at evaluation time
        "readout_dropout",  # the same, on what the readout reads
        "output_size",
        "readout",
        "forget_bias",  # an initialisation; the trained value is in layers.*.b
    }
)
"""The ModelConfig fields whose evaluation-time meaning the exporters write out."""

INSTALL_HINT = "Install the optional extra with `pip install 'bptt[export]'`."


class Exportable(NamedTuple):
    """A model ready to export.

    Attributes:
        model: the Model (its config fixes the architecture).
        params: its parameters, the keys of ``Model.init``.
        vocab: the characters of a text model's vocabulary (id order), or None.
    """

    model: Model
    params: Params
    vocab: list[str] | None = None


def check_exportable(model: Model, params: Params) -> None:
    """Raise a BpttError unless ``model`` and ``params`` can be exported exactly.

    Raises:
        BpttError: a user-defined cell, a config field without an exported meaning, or
            parameters that differ in names or shapes from what ``Model.init`` makes.
    """
    cfg = model.config
    if cfg.cell not in CELL_NAMES:
        raise BpttError(
            f"Cell {cfg.cell!r} is a user-defined cell; only the built-in cells "
            f"({', '.join(CELL_NAMES)}) can be exported, because ONNX, safetensors and torch "
            "know only their math. Retrain with a built-in --cell to deploy the model."
        )
    if cfg.pooled:
        raise BpttError(
            f"readout {cfg.readout!r} (pooling over time) has no exporter yet; the exporters "
            "write readouts 'all', 'last' and 'none'."
        )
    for field in dataclasses.fields(ModelConfig):
        value = getattr(cfg, field.name)
        if field.name not in EXPORTED_FIELDS and value != field.default:
            raise BpttError(
                f"ModelConfig.{field.name}={value!r} has no evaluation-time equivalent in this "
                f"exporter (it writes {', '.join(sorted(EXPORTED_FIELDS))}). Export a model "
                f"with {field.name}={field.default!r}, or upgrade bptt."
            )
    template = model.init(np.random.default_rng(0))
    if set(template) != set(params):
        extra = sorted(set(params) - set(template))
        missing = sorted(set(template) - set(params))
        raise BpttError(
            f"`params` do not fit {cfg}: unexpected {extra}, missing {missing}. Export the "
            "parameters Model.init made for this config (or a checkpoint of it)."
        )
    for name, value in template.items():
        got = np.shape(params[name])
        if got != value.shape:
            raise BpttError(f"`params[{name!r}]` has shape {got}; this config needs {value.shape}.")
        if np.asarray(params[name]).dtype.kind != "f":
            raise BpttError(f"`params[{name!r}]` must be floating point, got {params[name].dtype}.")


def from_checkpoint(path: str | Path) -> Exportable:
    """The model, parameters and vocabulary of a checkpoint file or run directory.

    Raises:
        BpttFileNotFoundError: no checkpoint there.
        BpttError: a corrupted checkpoint, or a model that cannot be exported.
    """
    from bptt.train.checkpoint import load_checkpoint
    from bptt.train.resume import saved_model

    ckpt = load_checkpoint(path)
    model = saved_model(ckpt)
    check_exportable(model, ckpt.params)
    return Exportable(model, dict(ckpt.params), ckpt.meta.get("vocab"))


def require(package: str, purpose: str) -> Any:
    """Import an optional package, or raise MissingExtraError naming the extra to install."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingExtraError(
            f"{purpose} needs the package `{package}`. {INSTALL_HINT}"
        ) from None
