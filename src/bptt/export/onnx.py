"""A bptt model as a standard ONNX graph, built with the ``onnx`` package (no torch).

The graph is the model at evaluation time: the embedding (Gather), one ONNX ``RNN``/``LSTM``/
``GRU`` operator per layer (both directions of a bidirectional layer in one operator), the
outputs of each layer concatenated over directions into the next, and the Dense readout
(MatMul + Add). Dropout is the identity at evaluation and does not appear.

    inputs         (T, B, D) floats, or (T, B) int64 token ids for a text model
    sequence_lens  (B,) int32, optional: valid steps of each right-padded sequence (default T)
    h_0            (L*dirs, B, H), optional: initial hidden state (default zeros)
    c_0            (L*dirs, B, H), optional, LSTM only: initial cell state (default zeros)
    ->
    outputs        (T, B, O) for readout "all", (B, O) for "last"; the top layer's outputs
                   (T, B, H*dirs) or (B, H*dirs) without a readout
    h_n, c_n       (L*dirs, B, H): the final state, ordered like ``Model.forward``'s carries
                   (index l * dirs + d) and PyTorch's h_n

T and B are dynamic. The optional inputs are graph inputs with a default value (an
initializer of the same name): ONNX Runtime lists them in ``get_overridable_initializers()``
and a caller may feed them or leave them out. Feeding ``h_n`` (and ``c_n``) of one call as
``h_0`` (``c_0``) of the next streams a long sequence chunk by chunk, with the same outputs
as one call. The ONNX operators have no reset: at a document boundary the caller feeds zeros
(or leaves the state out). ``sequence_lens`` expresses right padding only (bptt's masks are
any (T, B) pattern); padded steps output zeros, so a readout "all" model outputs
``readout.b`` there, as bptt does. A sequence of length 0 in a call keeps its state (ONNX
Runtime's operators return zeros there; the graph selects the initial state instead), so a
batch streams on after some of its sequences have ended. Readout "last" reads the top
layer's ``Y_h``: with ``sequence_lens`` the forward direction's is its last valid step, the
reverse direction's its state after step 0, the first valid step, which is what bptt (and
pack_padded_sequence) read.

Opset 14: the latest definition of the RNN, LSTM and GRU operators (it added ``layout``), so
runtimes that implement them at all run this graph; every other operator used is older.
ONNX Runtime (checked with 1.32) implements these three operators in float32 only; a float64
graph is valid ONNX (``onnx.checker`` passes) for runtimes that have the double kernels.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError
from bptt.export.exportable import check_exportable, require
from bptt.export.gates import onnx_weights
from bptt.model import Model
from bptt.types import Params

OPSET = 14
"""The ONNX opset of the graph: the latest version of the RNN, LSTM and GRU operators."""

IR_VERSION = 7
"""The ONNX IR version of onnx 1.9, which introduced opset 14: the oldest that can hold it."""

INPUTS, LENGTHS, H0, C0 = "inputs", "sequence_lens", "h_0", "c_0"
OUTPUTS, HN, CN = "outputs", "h_n", "c_n"

OPERATORS = {"rnn": "RNN", "relu": "RNN", "irnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
FAMILIES = {"rnn": "rnn", "relu": "rnn", "irnn": "rnn", "lstm": "lstm", "gru": "gru"}
DTYPES = (np.float32, np.float64)
NO_LENGTH = np.iinfo(np.int32).max
"""The default of ``sequence_lens``: clipped to T, so every sequence is T steps long."""


class _Sources(NamedTuple):
    """Values every layer reads: lengths (B,) int32, empty (1, B, 1) bool (length 0), and
    the initial states h0, c0 (L*dirs, B, H) (c0 None but for the LSTM)."""

    lengths: str
    empty: str
    h0: str
    c0: str | None


class _Graph:
    """Nodes and initializers of the graph under construction, with unique names."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: set[str] = set()
        self.count = 0

    def const(self, name: str, value: Any) -> str:
        """An initializer (added once: a second call with the same name reuses the first)."""
        if name not in self.names:
            self.names.add(name)
            self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: int | list[str] = 1, **attrs: Any) -> Any:
        """Add a node; returns its one output name, or the list of its output names."""
        if isinstance(outputs, int):
            self.count += 1
            names = [f"{op.lower()}_{self.count}_{k}" for k in range(outputs)]
        else:
            names = outputs
        self.nodes.append(self.onnx.helper.make_node(op, inputs, names, **attrs))
        return names[0] if len(names) == 1 else names


def to_onnx(
    model: Model, params: Params, *, dtype: Any = np.float32, vocab: list[str] | None = None
) -> Any:
    """The ONNX ModelProto of ``model`` with ``params`` (see the module docstring).

    Args:
        model: a model with a built-in cell.
        params: its parameters (cast to ``dtype``).
        dtype: np.float32 (the default) or np.float64, the graph's float type.
        vocab: a text model's vocabulary, stored in the metadata as JSON.

    Returns:
        An ``onnx.ModelProto`` that ``onnx.checker.check_model(full_check=True)`` accepts.

    Raises:
        BpttError: a model that cannot be exported (``check_exportable``) or another dtype.
        MissingExtraError: the ``onnx`` package is not installed.
    """
    onnx = require("onnx", "ONNX export")
    check_exportable(model, params)
    dtype = _check_dtype(dtype)
    cfg = model.config
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    n_states, H = len(model.layer_prefixes()), cfg.hidden_size
    g = _Graph(onnx)

    sources = _sources(g, onnx, n_states, H, lstm=cfg.cell == "lstm")
    if cfg.vocab_size is not None:
        xs = g.node("Gather", [g.const("embedding.W", params["embedding.W"].astype(dtype)), INPUTS])
    else:
        xs = INPUTS
    finals_h, finals_c, y_h = [], [], None
    for layer in range(cfg.num_layers):
        top = layer == cfg.num_layers - 1
        xs, y_h, y_c = _layer(g, model, params, layer, xs, sources, dtype, top)
        finals_h.append(y_h)
        finals_c.append(y_c)
    g.node("Concat", finals_h, [HN], axis=0)
    if sources.c0 is not None:
        g.node("Concat", finals_c, [CN], axis=0)
    if cfg.readout == "last":  # the top layer's final states, directions side by side
        xs = g.node(
            "Reshape", [g.node("Transpose", [y_h], perm=[1, 0, 2]), g.const("b_flat", [0, -1])]
        )
    if cfg.output_size is not None and cfg.readout != "none":
        W = g.const("readout.W", params["readout.W"].astype(dtype))
        b = g.const("readout.b", params["readout.b"].astype(dtype))
        g.node("Add", [g.node("MatMul", [xs, W]), b], [OUTPUTS])
    else:
        g.node("Identity", [xs], [OUTPUTS])

    inputs, outputs = _signature(onnx, model, elem, H, n_states)
    g.const(LENGTHS, np.array([NO_LENGTH], dtype=np.int32))
    g.const(H0, np.zeros((n_states, 1, H), dtype=dtype))
    if sources.c0 is not None:
        g.const(C0, np.zeros((n_states, 1, H), dtype=dtype))
    graph = onnx.helper.make_graph(
        g.nodes, "bptt", inputs, outputs, g.initializers, doc_string=__doc__.split("\n")[0]
    )
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="bptt",
    )
    metadata = {"bptt.model_config": json.dumps(dataclasses.asdict(model.config))}
    if vocab is not None:
        metadata["bptt.vocab"] = json.dumps(list(vocab))
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _sources(g: _Graph, onnx: Any, n_states: int, H: int, *, lstm: bool) -> _Sources:
    """The lengths, the empty-sequence mask and the initial states, broadcast to B."""
    shape = g.node("Shape", [INPUTS])
    steps = g.node("Slice", [shape, g.const("zero", [0]), g.const("one", [1])])  # [T]
    batch = g.node("Slice", [shape, "one", g.const("two", [2])])  # [B]
    lengths = g.node(
        "Min",
        [g.node("Expand", [LENGTHS, batch]), g.node("Cast", [steps], to=onnx.TensorProto.INT32)],
    )  # (B,) int32: the fed lengths, or T for every sequence
    state_shape = g.node(
        "Concat", [g.const("n_states", [n_states]), batch, g.const("H", [H])], axis=0
    )
    # ONNX Runtime gives a sequence of length 0 a zero final state; bptt keeps its state.
    empty = g.node("Equal", [lengths, g.const("no_steps", np.zeros(1, np.int32))])  # (B,)
    return _Sources(
        lengths,
        g.node("Unsqueeze", [empty, g.const("outer", [0, 2])]),  # (1, B, 1)
        g.node("Expand", [H0, state_shape]),  # (L*dirs, B, H)
        g.node("Expand", [C0, state_shape]) if lstm else None,
    )


def _layer(
    g: _Graph,
    model: Model,
    params: Params,
    layer: int,
    xs: str,
    sources: _Sources,
    dtype: Any,
    top: bool,
) -> tuple[str, str, str | None]:
    """One layer, both directions, as one ONNX operator; returns (outputs, Y_h, Y_c)."""
    cfg = model.config
    dirs, H = cfg.directions, cfg.hidden_size
    prefixes = model.layer_prefixes()[layer * dirs : (layer + 1) * dirs]
    weights = onnx_weights(
        FAMILIES[cfg.cell], [model.cell_params(params, p) for p in prefixes], dtype
    )
    names = [g.const(f"{prefixes[0]}.onnx_{k}", v) for k, v in zip("WRB", weights, strict=True)]
    rows = [g.const(f"layers.{layer}.rows_{k}", [layer * dirs + k * dirs]) for k in (0, 1)]
    c0 = sources.c0
    state = [g.node("Slice", [sources.h0, *rows, "zero"])]  # (dirs, B, H)
    if c0 is not None:
        state.append(g.node("Slice", [c0, *rows, "zero"]))
    attrs: dict[str, Any] = {
        "hidden_size": H,
        "direction": "bidirectional" if cfg.bidirectional else "forward",
    }
    if cfg.cell in ("rnn", "relu", "irnn"):
        attrs["activations"] = ["Tanh" if cfg.cell == "rnn" else "Relu"] * dirs
    if cfg.cell == "gru":
        attrs["linear_before_reset"] = 1  # b_hn inside the reset product, as PyTorch
    # The top layer's per-step outputs are not needed for a last-step readout.
    keep_y = not (top and cfg.readout == "last")
    tag = f"layers.{layer}"
    outs = [f"{tag}.Y" if keep_y else "", f"{tag}.Y_h"] + ([f"{tag}.Y_c"] if c0 else [])
    g.node(OPERATORS[cfg.cell], [xs, *names, sources.lengths, *state], outs, **attrs)
    y = outs[0]
    finals = [  # (dirs, B, H): the initial state where a sequence has no step
        g.node("Where", [sources.empty, s0, s]) for s0, s in zip(state, outs[1:], strict=True)
    ]
    y_h, y_c = finals[0], (finals[1] if c0 else None)
    if not keep_y:
        return "", y_h, y_c
    if dirs == 1:
        return g.node("Squeeze", [y, "one"]), y_h, y_c  # (T, 1, B, H) -> (T, B, H)
    y = g.node("Transpose", [y], perm=[0, 2, 1, 3])  # (T, B, dirs, H)
    return g.node("Reshape", [y, g.const("tb_flat", [0, 0, -1])]), y_h, y_c  # (T, B, 2H)


def _signature(onnx: Any, model: Model, elem: int, H: int, n_states: int) -> tuple[list, list]:
    """The graph's input and output value infos, with dynamic "time" and "batch" axes."""
    cfg = model.config
    make = onnx.helper.make_tensor_value_info
    if cfg.vocab_size is not None:
        inputs = [make(INPUTS, onnx.TensorProto.INT64, ["time", "batch"])]
    else:
        inputs = [make(INPUTS, elem, ["time", "batch", cfg.layer_input_size])]
    inputs.append(make(LENGTHS, onnx.TensorProto.INT32, ["batch"]))
    state = [n_states, "batch", H]
    inputs.append(make(H0, elem, state))
    outputs_width = cfg.output_size
    if cfg.output_size is None or cfg.readout == "none":
        outputs_width = H * cfg.directions
    out_shape = (
        ["batch", outputs_width] if cfg.readout == "last" else ["time", "batch", outputs_width]
    )
    outputs = [make(OUTPUTS, elem, out_shape), make(HN, elem, state)]
    if cfg.cell == "lstm":
        inputs.append(make(C0, elem, state))
        outputs.append(make(CN, elem, state))
    return inputs, outputs


def _check_dtype(dtype: Any) -> type:
    try:
        resolved = np.dtype(dtype).type
    except TypeError:
        resolved = None
    if resolved not in DTYPES:
        raise BpttError(f"`dtype` must be float32 or float64 for ONNX export, got {dtype!r}.")
    return resolved


def export_onnx(
    model: Model,
    params: Params,
    path: str | Path,
    *,
    dtype: Any = np.float32,
    vocab: list[str] | None = None,
) -> Path:
    """Write ``model`` with ``params`` to ``path`` as an ONNX file (see ``to_onnx``).

    Example::

        export_onnx(model, params, "model.onnx")
        session = onnxruntime.InferenceSession("model.onnx")
        outputs, h_n = session.run(None, {"inputs": xs})            # (T, B, O), (L, B, H)
        more, h_n = session.run(None, {"inputs": xs2, "h_0": h_n})  # carried state

    Returns:
        The path written.
    """
    proto = to_onnx(model, params, dtype=dtype, vocab=vocab)
    path = Path(path)
    try:
        path.write_bytes(proto.SerializeToString())
    except OSError as error:
        raise BpttError(f"Cannot write the ONNX file {path}: {error.strerror or error}.") from None
    return path
