"""The ONNX graph computes the model: ONNX Runtime (float32) and the onnx reference evaluator
(float64) against Model.forward, for every cell, depth, direction, padding and initial state."""

import functools
import json
import sys

import numpy as np
import pytest
from export_cases import ARCHS, CELLS, LENGTHS, B, T, bptt_result, build, case, stacked_states

from bptt.errors import BpttError, MissingExtraError
from bptt.export import exportable, to_onnx
from bptt.export.gates import ONNX_BLOCKS, onnx_weights
from bptt.export.verify import onnx_feed, session, verify_onnx
from bptt.model import Model, ModelConfig

onnx = pytest.importorskip("onnx", reason="pip install 'bptt[export]'")
pytest.importorskip("onnxruntime", reason="pip install 'bptt[export]'")
from onnx.reference.ops.op_rnn import RNN_14  # noqa: E402


@functools.cache
def exported(cell, num_layers, bidirectional, readout="all", output_size=2, vocab_size=None):
    """(model, params, ONNX Runtime session), built once per architecture."""
    model, params = build(
        cell, num_layers, bidirectional, readout=readout, output_size=output_size,
        vocab_size=vocab_size,
    )  # fmt: skip
    proto = to_onnx(model, params)
    onnx.checker.check_model(proto, full_check=True)
    return model, params, session(proto.SerializeToString())


def run_onnx(sess, model, c):
    return sess.run(None, onnx_feed(model, c["inputs"], c["lengths"], c["carries0"]))


def assert_close(got, want, tol):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("carried", [False, True], ids=["zero-state", "carried-state"])
@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("arch", ARCHS, ids=str)
@pytest.mark.parametrize("cell", CELLS)
def test_onnx_runtime_equals_bptt(cell, arch, padded, carried):
    model, params, sess = exported(cell, *ARCHS[arch])
    c = case(model, padded=padded, carried=carried)
    assert_close(run_onnx(sess, model, c), bptt_result(model, params, c), 1e-5)


@pytest.mark.parametrize("output_size", [2, None], ids=["readout", "no-readout"])
@pytest.mark.parametrize("readout", ["last", "none"])
@pytest.mark.parametrize("arch", [(2, False), (2, True)], ids=["2-layers", "2-layers-bidir"])
@pytest.mark.parametrize("cell", CELLS)
def test_readouts_last_and_none_with_padding_and_state(cell, arch, readout, output_size):
    """ "last" reads the forward direction's last valid state and the reverse direction's
    state after step 0 (Y_h with sequence_lens), as bptt does; "none", or no readout
    weights at all, returns the top layer's states."""
    model, params, sess = exported(cell, *arch, readout=readout, output_size=output_size)
    c = case(model, padded=True, carried=True)
    got = run_onnx(sess, model, c)
    want = bptt_result(model, params, c)
    width = 2 if readout == "last" and output_size else 5 * (1 + arch[1])
    assert got[0].shape == ((B, width) if readout == "last" else (T, B, width))
    assert_close(got, want, 1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_text_model_with_embedding(cell):
    model, params, sess = exported(cell, 2, False, output_size=6, vocab_size=6)
    c = case(model, padded=True, carried=True)
    assert_close(run_onnx(sess, model, c), bptt_result(model, params, c), 1e-5)


def test_optional_inputs_default_to_zero_state_and_full_length():
    model, _, sess = exported("lstm", 3, False)
    assert [i.name for i in sess.get_inputs()] == ["inputs"]
    names = sorted(i.name for i in sess.get_overridable_initializers())
    assert names == ["c_0", "h_0", "sequence_lens"]
    c = case(model, padded=False, carried=False)
    explicit = {"carries0": case(model, padded=False, carried=True)["carries0"]}
    zeros = [type(k)(*(np.zeros_like(v) for v in k)) for k in explicit["carries0"]]
    fed = run_onnx(sess, model, {**c, "lengths": np.full(B, T), "carries0": zeros})
    assert_close(run_onnx(sess, model, c), fed, 0.0)


def test_time_and_batch_axes_are_dynamic():
    model, params, sess = exported("gru", 1, True)
    for steps, batch in [(1, 1), (4, 2), (12, 5)]:
        xs = np.random.default_rng(steps).standard_normal((steps, batch, 4)).astype(np.float32)
        got = sess.run(None, {"inputs": xs})
        outputs, carries, _ = model.forward(params, xs)
        assert_close(got, [outputs, *stacked_states(model, carries)], 1e-5)


@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("readout", ["all", "last"])
@pytest.mark.parametrize("cell", CELLS)
def test_streaming_through_onnx_equals_one_call(cell, readout, padded):
    """Feeding h_n (c_n) back as h_0 (c_0) chunk by chunk gives one call's outputs and state.
    Padded, each chunk gets the steps left of each sequence: 0 once it has ended, where the
    graph keeps the state, as bptt does at padded steps."""
    model, params, sess = exported(cell, 2, False, readout=readout)
    c = case(model, padded=padded, carried=True, steps=11)
    whole = run_onnx(sess, model, c)
    state, pieces = c["carries0"], []
    for start, stop in [(0, 4), (4, 5), (5, 11)]:
        lengths = None if not padded else np.clip(c["lengths"] - start, 0, stop - start)
        chunk = {"inputs": c["inputs"][start:stop], "lengths": lengths, "carries0": state}
        got = run_onnx(sess, model, chunk)
        pieces.append(got[0])
        state = [model.cell.carry_type(*(s[k] for s in got[1:])) for k in range(len(got[1]))]
    streamed = np.concatenate(pieces) if readout == "all" else pieces[-1]
    assert_close([streamed, *stacked_states(model, state)], whole, 1e-5)
    assert_close(whole, bptt_result(model, params, c), 1e-5)
    if padded:  # a chunk where sequence 1 (length 3) has no step left: lengths 0 happened
        assert (np.clip(LENGTHS - 5, 0, 6) == 0).any()


class RNN(RNN_14):
    """The reference evaluator's RNN knows the Tanh and Affine activations; this adds Relu
    (ONNX's RNN activation list has it) so that the ReLU RNN is checked in float64 too. The
    evaluator finds it by its class name, which must be the operator's."""

    op_domain = ""

    def choose_act(self, name, alpha, beta):
        if name in ("Relu", "relu"):
            return lambda x: np.maximum(x, 0.0)
        return super().choose_act(name, alpha, beta)


@pytest.mark.parametrize("carried", [False, True], ids=["zero-state", "carried-state"])
@pytest.mark.parametrize("arch", ARCHS, ids=str)
@pytest.mark.parametrize("cell", CELLS)
def test_float64_graph_equals_bptt_to_1e12(cell, arch, carried):
    """ONNX Runtime (1.32) has float32 kernels only for these operators, so the float64 graph
    runs in onnx's reference evaluator, which ignores sequence_lens: full lengths here, the
    padded batches are checked in float32 above."""
    from onnx.reference import ReferenceEvaluator

    model, params = build(cell, *ARCHS[arch], dtype=np.float64)
    proto = to_onnx(model, params, dtype=np.float64)
    onnx.checker.check_model(proto, full_check=True)
    reference = ReferenceEvaluator(proto, new_ops=[RNN])
    c = case(model, padded=False, carried=carried, dtype=np.float64)
    got = reference.run(None, onnx_feed(model, c["inputs"], np.full(B, T), c["carries0"]))
    assert got[0].dtype == np.float64
    assert_close(got, bptt_result(model, params, c), 1e-12)


def test_gate_blocks_follow_onnx_order():
    """LSTM i,f,g,o -> ONNX i,o,f,c; GRU r,z,n -> z,r,h, with b_hn as the recurrent h bias."""
    model, params = build("gru", dtype=np.float64)
    p = model.cell_params(params, "layers.0")
    W, R, Bias = onnx_weights("gru", [p], np.float64)
    H = 5
    np.testing.assert_array_equal(W[0, :H], p.W_x[:, H : 2 * H].T)  # z first
    np.testing.assert_array_equal(R[0, H : 2 * H], p.W_h[:, :H].T)  # then r
    np.testing.assert_array_equal(Bias[0, 3 * H :], np.r_[np.zeros(2 * H), p.b_hn])
    assert ONNX_BLOCKS["lstm"] == (0, 3, 1, 2)


def test_metadata_holds_config_and_vocabulary():
    model, params = build("lstm", vocab_size=6, output_size=6)
    proto = to_onnx(model, params, vocab=list("abcdef"))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["bptt.model_config"])["vocab_size"] == 6
    assert json.loads(props["bptt.vocab"]) == list("abcdef")
    assert proto.opset_import[0].version == 14


def test_verify_reports_tiny_differences():
    model, params = build("gru", 2, True, readout="last")
    check = verify_onnx(to_onnx(model, params).SerializeToString(), model, params)
    assert check.outputs < 1e-5 and check.state < 1e-5


def test_a_user_cell_is_refused():
    model = Model(ModelConfig(cell="linear_cell:LinearCell", input_size=4, hidden_size=5))
    params = model.init(np.random.default_rng(0))
    with pytest.raises(BpttError, match="user-defined cell; only the built-in cells"):
        to_onnx(model, params)


def test_an_unknown_config_field_is_refused_not_dropped(monkeypatch):
    """A field the exporter does not list (here: dropout, pretending it were new) is refused
    when it is away from its default, instead of being exported as if absent."""
    monkeypatch.setattr(exportable, "EXPORTED_FIELDS", exportable.EXPORTED_FIELDS - {"dropout"})
    model = Model(ModelConfig(cell="gru", input_size=4, hidden_size=5, num_layers=2, dropout=0.2))
    with pytest.raises(BpttError, match=r"ModelConfig.dropout=0.2 has no evaluation-time"):
        to_onnx(model, model.init(np.random.default_rng(0)))


def test_dropout_exports_as_the_identity():
    model = Model(ModelConfig(cell="gru", input_size=4, hidden_size=5, num_layers=2, dropout=0.5))
    params = model.init(np.random.default_rng(0))
    check = verify_onnx(to_onnx(model, params).SerializeToString(), model, params)
    assert check.outputs < 1e-5


def test_parameters_that_do_not_fit_and_bad_dtypes_are_refused():
    model, params = build("lstm")
    with pytest.raises(BpttError, match=r"unexpected \['extra'\], missing \[\]"):
        to_onnx(model, {**params, "extra": np.zeros(3)})
    with pytest.raises(BpttError, match=r"has shape \(5, 20\); this config needs \(4, 20\)"):
        to_onnx(model, {**params, "layers.0.W_x": np.zeros((5, 20))})
    with pytest.raises(BpttError, match="`dtype` must be float32 or float64"):
        to_onnx(model, params, dtype=np.float16)


def test_a_missing_onnx_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what an uninstalled package looks like
    model, params = build("rnn")
    with pytest.raises(MissingExtraError, match=r"pip install 'bptt\[export\]'"):
        to_onnx(model, params)
