"""What a checkpoint's JSON header holds, and how a run is rebuilt from it.

``checkpoint.py`` writes and reads the file; this module decides its contents. The header
(``Checkpoint.meta``) holds, next to the arrays:

    step, cursor, rng_state, nonfinite_streak, nonfinite_total   the TrainState's scalars
    best, evals_since_best                                       early stopping
    config                                                       TrainConfig.to_dict()
    model_config                                                 the ModelConfig's fields
    vocab                                                        a text task's characters
    run_id                                                       which run wrote it
    format_version                                               added by save_checkpoint

With the config, that is everything needed to continue a run bit for bit.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.data.text import Vocabulary
from bptt.errors import BpttError
from bptt.model import Model, ModelConfig
from bptt.optim import GradientTransformation
from bptt.train.checkpoint import Checkpoint, unflatten
from bptt.train.config import ARCHITECTURE_FIELDS, Layer, TrainConfig, resolve_config
from bptt.train.state import TrainState


class Restored(NamedTuple):
    """A run as a checkpoint left it: its TrainState, early-stopping record and run id."""

    state: TrainState
    best: float | None
    evals_since_best: int
    run_id: str


def checkpoint_meta(
    state: TrainState,
    *,
    config: TrainConfig,
    model: Model,
    vocab: Vocabulary | None,
    best: float | None,
    evals_since_best: int,
    run_id: str,
) -> dict[str, Any]:
    """The JSON header of a checkpoint of ``state`` (the arrays are saved beside it)."""
    return {
        "run_id": run_id,
        "step": state.step,
        "cursor": list(state.cursor),
        "rng_state": state.rng_state,
        "nonfinite_streak": state.nonfinite_streak,
        "nonfinite_total": state.nonfinite_total,
        "best": best,
        "evals_since_best": evals_since_best,
        "config": config.to_dict(),
        "model_config": dataclasses.asdict(model.config),
        "vocab": None if vocab is None else vocab.to_list(),
    }


def restore(
    ckpt: Checkpoint,
    *,
    model: Model,
    optimizer: GradientTransformation,
    vocab: Vocabulary | None,
) -> Restored:
    """The TrainState saved in ``ckpt``, for ``model`` and ``optimizer`` built from its config.

    Raises:
        BpttError: parameters that do not fit ``model``, or another vocabulary than ``vocab``.
    """
    template = model.init(np.random.default_rng(0))
    if list(template) != list(ckpt.params) or any(
        template[k].shape != ckpt.params[k].shape for k in template
    ):
        raise BpttError(
            f"Checkpoint {ckpt.path} holds parameters that do not fit this model "
            f"({model.config}); it was made with a different config."
        )
    if vocab is not None and ckpt.meta.get("vocab") != vocab.to_list():
        raise BpttError(
            f"Checkpoint {ckpt.path} was trained with a different vocabulary than the "
            "current data; resume with the same --task/--text."
        )
    params = {k: np.array(v) for k, v in ckpt.params.items()}
    opt_state = unflatten(optimizer.init(params), ckpt.opt_leaves)
    carries = None
    if ckpt.carries is not None:
        carries = tuple(model.cell.carry_type(**c) for c in ckpt.carries)
    meta = ckpt.meta
    state = TrainState(
        params,
        opt_state,
        int(meta["step"]),
        tuple(meta["cursor"]),
        carries,
        meta["rng_state"],
        int(meta["nonfinite_streak"]),
        int(meta["nonfinite_total"]),
    )
    # A checkpoint of an older version has no run id: the resumed run gets a new one.
    run_id = meta.get("run_id") or new_run_id()
    return Restored(state, meta.get("best"), int(meta.get("evals_since_best", 0)), run_id)


def new_run_id() -> str:
    """A fresh run id: which checkpoints belong to one run (pruning removes only those)."""
    return uuid.uuid4().hex


def run_directory(ckpt: Checkpoint) -> Path:
    """The output directory of the run ``ckpt`` belongs to (absolute): OUT of
    OUT/checkpoints/ckpt-N.npz, or the folder of a checkpoint file that lies elsewhere."""
    folder = ckpt.path.resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def saved_settings(ckpt: Checkpoint) -> Layer:
    """The settings layer saved in ``ckpt`` (older checkpoints spell full BPTT k1 = k2 = 0).

    Raises:
        BpttError: the checkpoint holds no training config.
    """
    saved = ckpt.meta.get("config")
    if not isinstance(saved, dict):
        raise BpttError(f"Checkpoint {ckpt.path} holds no training config; it cannot resume.")
    return Layer(f"checkpoint {ckpt.path}", saved)


def saved_config(ckpt: Checkpoint) -> TrainConfig:
    """The resolved TrainConfig a checkpoint was trained with."""
    return resolve_config(saved_settings(ckpt))


def saved_model(ckpt: Checkpoint) -> Model:
    """The Model a checkpoint's parameters belong to.

    Raises:
        BpttError: the checkpoint holds no model config.
    """
    fields = ckpt.meta.get("model_config")
    if not isinstance(fields, dict):
        raise BpttError(f"Checkpoint {ckpt.path} holds no model config; it cannot be loaded.")
    return Model(ModelConfig(**fields))


def resume_config(ckpt: Checkpoint, overrides: dict[str, Any]) -> TrainConfig:
    """The checkpoint's config with ``overrides`` (command-line settings) merged on top.

    The run goes on writing where its checkpoint lives (``run_directory``), whatever ``out``
    the checkpoint saved (a relative path means another folder from another working
    directory), unless ``overrides`` name another ``out``.

    Raises:
        BpttError: the overrides change the model, the data or the truncation
            (``ARCHITECTURE_FIELDS``), or give an invalid config.
    """
    saved = saved_settings(ckpt)
    if overrides.get("out") is None:
        overrides = {**overrides, "out": str(run_directory(ckpt))}
    before = resolve_config(saved)
    after = resolve_config(saved, Layer("command line", overrides))
    conflicts = [
        f"{k}={getattr(before, k)!r} in the checkpoint, {getattr(after, k)!r} asked"
        for k in ARCHITECTURE_FIELDS
        if getattr(after, k) != getattr(before, k)
    ]
    if conflicts:
        raise BpttError(
            f"Incompatible config for resuming {ckpt.path}: {'; '.join(conflicts)}. Start a new "
            "run (another --out) to change these."
        )
    return after
