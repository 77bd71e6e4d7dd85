"""Models, inputs and bptt's reference results shared by the export tests.

Sizes all differ (T=7, B=3, D=4, H=5, O=2) so that a swapped axis fails loudly; the padded
batch has lengths 7, 3, 5 (not sorted, as pack_padded_sequence's enforce_sorted=False allows).
"""

from typing import Any

import numpy as np

from bptt.model import Model, ModelConfig

T, B, D, H, O, V = 7, 3, 4, 5, 2, 6  # noqa: E741 (the shape letters)
LENGTHS = np.array([7, 3, 5])
CELLS = ("rnn", "relu", "lstm", "gru")
ARCHS = {"1-layer": (1, False), "3-layers": (3, False), "bidirectional": (1, True)}


def build(
    cell: str,
    num_layers: int = 1,
    bidirectional: bool = False,
    *,
    readout: str = "all",
    output_size: int | None = O,
    vocab_size: int | None = None,
    dtype: Any = np.float32,
    seed: int = 0,
) -> tuple[Model, dict]:
    """A model and its parameters; the biases are made random (they start at 0 or 1)."""
    features = {"vocab_size": V, "embed_size": D} if vocab_size else {"input_size": D}
    model = Model(
        ModelConfig(
            cell=cell,
            hidden_size=H,
            num_layers=num_layers,
            bidirectional=bidirectional,
            output_size=output_size,
            readout=readout,
            **features,
        )
    )
    rng = np.random.default_rng(seed)
    params = model.init(rng, dtype=dtype)
    for name, value in params.items():
        if name.endswith((".b", ".b_hn")):
            params[name] = (0.3 * rng.standard_normal(value.shape)).astype(dtype)
    return model, params


def case(
    model: Model, *, padded: bool, carried: bool, dtype: Any = np.float32, steps: int = T, seed=1
) -> dict[str, Any]:
    """Inputs (floats or ids), lengths and mask (or None) and initial carries (or None)."""
    rng = np.random.default_rng(seed)
    if model.config.vocab_size is not None:
        inputs = rng.integers(0, V, size=(steps, B))
    else:
        inputs = rng.standard_normal((steps, B, D)).astype(dtype)
    lengths = np.minimum(LENGTHS, steps) if padded else None
    mask = None if lengths is None else np.arange(steps)[:, None] < lengths[None, :]
    carries0 = None
    if carried:
        fields = model.cell.carry_type._fields
        carries0 = tuple(
            model.cell.carry_type(*(rng.standard_normal((B, H)).astype(dtype) for _ in fields))
            for _ in model.layer_prefixes()
        )
    return {"inputs": inputs, "lengths": lengths, "mask": mask, "carries0": carries0}


def stacked_states(model: Model, carries: Any) -> list[np.ndarray]:
    """[h_n] or [h_n, c_n], each (L*dirs, B, H), from bptt's carries."""
    states = [np.stack([c.h for c in carries])]
    if model.config.cell == "lstm":
        states.append(np.stack([c.c for c in carries]))
    return states


def bptt_result(model: Model, params: dict, c: dict) -> list[np.ndarray]:
    """[outputs, h_n(, c_n)] of Model.forward, the reference of every export test."""
    outputs, carries, _ = model.forward(params, c["inputs"], mask=c["mask"], carries0=c["carries0"])
    return [outputs, *stacked_states(model, carries)]
