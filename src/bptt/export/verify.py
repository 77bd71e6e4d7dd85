"""Check an exported ONNX file: ONNX Runtime's outputs against bptt's, on a hard case.

The case has every feature the graph must get right at once: a padded batch (lengths T,
T - 2, ..., at least 1, so the reverse direction and a last-step readout see different
lengths), a random carried initial state, and random inputs or token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.export.exportable import require
from bptt.export.onnx import C0, H0, INPUTS, LENGTHS
from bptt.model import Model
from bptt.types import Array, Params


class Verification(NamedTuple):
    """Largest absolute differences between ONNX Runtime and bptt.

    Attributes:
        outputs: over the outputs.
        state: over the final states h_n (and c_n).
    """

    outputs: float
    state: float


def session(path: str | Path | bytes, *, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and warnings silenced
    (it warns that the optional inputs, being overridable, are not constant-folded;
    its errors reach the caller as exceptions)."""
    ort = require("onnxruntime", "Running an ONNX file")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # errors reach the caller as exceptions
    source = str(path) if isinstance(path, Path) else path
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def random_case(model: Model, steps: int, batch: int, dtype: Any, seed: int) -> dict[str, Any]:
    """Inputs, a right-padded mask and carried initial carries for ``model``."""
    cfg = model.config
    rng = np.random.default_rng(seed)
    if cfg.vocab_size is not None:
        inputs: Array = rng.integers(0, cfg.vocab_size, size=(steps, batch))
    else:
        inputs = rng.standard_normal((steps, batch, cfg.layer_input_size)).astype(dtype)
    lengths = np.maximum(steps - 2 * np.arange(batch), 1)  # (B,)
    mask = np.arange(steps)[:, None] < lengths[None, :]  # (T, B)
    fields = model.cell.carry_type._fields
    carries0 = tuple(
        model.cell.carry_type(
            *(0.5 * rng.standard_normal((batch, cfg.hidden_size)).astype(dtype) for _ in fields)
        )
        for _ in model.layer_prefixes()
    )
    return {"inputs": inputs, "lengths": lengths, "mask": mask, "carries0": carries0}


def onnx_feed(model: Model, inputs: Array, lengths: Any = None, carries0: Any = None) -> dict:
    """The ONNX Runtime feed for ``inputs``, optional lengths (B,) and carries (bptt's form)."""
    feed = {INPUTS: inputs if model.config.vocab_size is None else inputs.astype(np.int64)}
    if lengths is not None:
        feed[LENGTHS] = np.asarray(lengths, dtype=np.int32)
    if carries0 is not None:
        feed[H0] = np.stack([c.h for c in carries0])  # (L*dirs, B, H)
        if model.config.cell == "lstm":
            feed[C0] = np.stack([c.c for c in carries0])
    return feed


def verify_onnx(
    path: str | Path | bytes,
    model: Model,
    params: Params,
    *,
    steps: int = 7,
    batch: int = 3,
    seed: int = 0,
) -> Verification:
    """Run the exported file in ONNX Runtime and bptt on one random padded batch with a
    carried state; return the largest differences.

    Raises:
        BpttError: the file is float64 and ONNX Runtime has no float64 recurrent kernels.
        MissingExtraError: onnxruntime is not installed.
    """
    onnx = require("onnx", "Reading an ONNX file")
    proto = onnx.load_from_string(path) if isinstance(path, bytes) else onnx.load(str(path))
    double = proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    dtype = np.float64 if double else np.float32
    case = random_case(model, steps, batch, dtype, seed)
    try:
        sess = session(path)
        got = sess.run(None, onnx_feed(model, case["inputs"], case["lengths"], case["carries0"]))
    except Exception as error:  # ONNX Runtime raises its own types
        if dtype == np.float64:
            raise BpttError(
                "ONNX Runtime cannot run this float64 graph (its RNN, LSTM and GRU kernels "
                f"are float32 only: {str(error).splitlines()[0][:160]}). Verify a float32 "
                "export, or run the float64 file in a runtime with double kernels."
            ) from None
        raise
    typed = {k: v.astype(dtype) for k, v in params.items()}
    outputs, carries, _ = model.forward(
        typed, case["inputs"], mask=case["mask"], carries0=case["carries0"]
    )
    states = [np.stack([c.h for c in carries])]
    if model.config.cell == "lstm":
        states.append(np.stack([c.c for c in carries]))
    state_error = max(float(np.abs(g - s).max()) for g, s in zip(got[1:], states, strict=True))
    return Verification(float(np.abs(got[0] - outputs).max()), state_error)
