"""Helpers shared by the measurements: the models they accept and the floating-point state."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.model import Model
from bptt.types import Array, Params
from bptt.window import Batch

PER_STEP_MSG = (
    "Gradient-flow diagnostics need a prediction at every step, but the model has "
    "readout='last'. Diagnose a model with readout='all' (or 'none')."
)


def check_model(model: Model) -> None:
    """Raise ValueError for a model whose outputs are not one per step."""
    if not isinstance(model, Model):
        raise BpttTypeError(f"`model` is {type(model).__name__}; expected a bptt.model.Model.")
    if model.config.readout == "last":
        raise BpttError(PER_STEP_MSG)


def float64(params: Params) -> Params:
    """The parameters in float64, the precision every measurement runs in.

    A vanishing float32 gradient passes through subnormal numbers, which are orders of
    magnitude slower to compute with, and underflows to zero near 1e-38, cutting the decay
    curve short; float64 reaches 1e-308. Rounding the model's float32 values up changes its
    outputs by about float32's epsilon, far below what the diagnostics resolve.
    """
    return {name: np.asarray(p, dtype=np.float64) for name, p in params.items()}


def measuring() -> Any:
    """The floating-point state of a diagnostic pass through the engine.

    A vanishing gradient may underflow to zero and an exploding one overflow to Inf: both are
    the quantity being measured (the verdicts and findings report them), not an error, so
    within a pass neither raises even under ``np.seterr(all="raise")``.
    """
    return np.errstate(under="ignore", over="ignore", invalid="ignore")


def float_twin(model: Model, params: Params, inputs: Any) -> tuple[Model, Params, Array]:
    """The same network fed with float inputs: token ids are looked up in the embedding here.

    Model.backward returns no input gradient for token ids, so measurements that need
    dL/dx use this twin, whose inputs are the embedding outputs (T, B, E).

    Returns:
        (model, params without ``embedding.W``, xs (T, B, D or E)).
    """
    if model.config.vocab_size is None:
        return model, params, inputs
    config = dataclasses.replace(model.config, vocab_size=None, input_size=model.config.embed_size)
    twin_params = {k: v for k, v in params.items() if k != "embedding.W"}
    xs = model.embed(params, inputs)[0]  # (T, B, E), the ids checked as Model.forward does
    return Model(config), twin_params, xs


def last_steps(batch: Batch) -> np.ndarray:
    """(B,) the last real step of each sequence: T - 1 without a mask.

    Raises:
        ValueError: a sequence without any real step.
    """
    T, B = batch.inputs.shape[:2]
    if batch.mask is None:
        return np.full(B, T - 1)
    mask = np.asarray(batch.mask, dtype=bool)
    empty = np.flatnonzero(~mask.any(axis=0))
    if empty.size:
        raise BpttError(
            f"`batch.mask` has no real step for sequence(s) {empty.tolist()}; drop them from "
            "the batch before diagnosing."
        )
    return T - 1 - np.argmax(mask[::-1], axis=0)


def flat(grads: Params) -> Array:
    """Every gradient array in one vector, in the order of the mapping."""
    return np.concatenate([np.ravel(g) for g in grads.values()])
