"""The torch.nn.Module built from a bptt model computes Model.forward at evaluation time."""

import numpy as np
import pytest
from export_cases import CELLS, bptt_result, build, case, stacked_states

from bptt.errors import BpttError
from bptt.export import save_safetensors, torch_module, torch_module_from_safetensors
from bptt.model import Model, ModelConfig

torch = pytest.importorskip("torch", reason="pip install torch")


def run_torch(module, model, c):
    state = None
    if c["carries0"] is not None:
        state = [torch.from_numpy(s) for s in stacked_states(model, c["carries0"])]
        state = tuple(state) if len(state) == 2 else state[0]
    with torch.no_grad():
        out, state_n = module(torch.from_numpy(c["inputs"]), state, lengths=c["lengths"])
    states = list(state_n) if isinstance(state_n, tuple) else [state_n]
    return [t.numpy() for t in (out, *states)]


@pytest.mark.parametrize("readout", ["all", "last", "none"])
@pytest.mark.parametrize("arch", [(3, False), (2, True)], ids=["3-layers", "2-layers-bidir"])
@pytest.mark.parametrize("cell", CELLS)
def test_module_equals_bptt_in_float64(cell, arch, readout):
    """Padded (pack_padded_sequence inside) with a carried state; float64 to 1e-10."""
    model, params = build(cell, *arch, readout=readout, dtype=np.float64)
    module = torch_module(model, params)
    assert not module.training
    c = case(model, padded=True, carried=True, dtype=np.float64)
    for got, want in zip(run_torch(module, model, c), bptt_result(model, params, c), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_float32_text_model_from_safetensors(tmp_path, cell):
    model, params = build(cell, 2, False, vocab_size=6, output_size=6)
    path = save_safetensors(model, params, tmp_path / "m.safetensors")
    module = torch_module_from_safetensors(path)
    assert module.rnn.weight_ih_l0.dtype == torch.float32
    c = case(model, padded=False, carried=False)
    got = run_torch(module, model, {**c, "inputs": c["inputs"].astype(np.int64)})
    for g, w in zip(got, bptt_result(model, params, c), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_module_names_and_a_refused_user_cell():
    model, params = build("gru", 2, True)
    names = set(torch_module(model, params).state_dict())
    assert {"rnn.weight_ih_l1_reverse", "rnn.bias_hh_l0", "readout.weight"} <= names
    user = Model(ModelConfig(cell="linear_cell:LinearCell", input_size=4, hidden_size=5))
    with pytest.raises(BpttError, match="user-defined cell"):
        torch_module(user, user.init(np.random.default_rng(0)))
