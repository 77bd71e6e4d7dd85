"""safetensors with PyTorch's names: loads into torch.nn.RNN/LSTM/GRU, and back into bptt."""

import numpy as np
import pytest
from export_cases import ARCHS, CELLS, D, H, bptt_result, build, case, stacked_states

from bptt.errors import BpttError, BpttFileNotFoundError
from bptt.export import load_safetensors, save_safetensors

safetensors = pytest.importorskip("safetensors", reason="pip install 'bptt[export]'")

MODULES = {"rnn": "tanh", "relu": "relu"}


def torch_rnn(torch, cell, num_layers, bidirectional):
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional}
    if cell in MODULES:
        return torch.nn.RNN(D, H, nonlinearity=MODULES[cell], **kwargs)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, **kwargs)


@pytest.mark.parametrize("arch", ARCHS, ids=str)
@pytest.mark.parametrize("cell", CELLS)
def test_the_file_loads_into_torch_rnn_modules(tmp_path, cell, arch):
    """torch.nn.X(...).load_state_dict(safetensors.torch.load_file(path)), strict; outputs
    and final states equal bptt's (float32, 1e-6) with a carried initial state."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    model, params = build(cell, *ARCHS[arch], output_size=None)  # the stack alone
    path = save_safetensors(model, params, tmp_path / "w.safetensors")
    module = torch_rnn(torch, cell, *ARCHS[arch])
    module.load_state_dict(load_file(path))
    c = case(model, padded=False, carried=True)
    h0 = [torch.from_numpy(s) for s in stacked_states(model, c["carries0"])]
    with torch.no_grad():
        out, state = module(torch.from_numpy(c["inputs"]), tuple(h0) if len(h0) == 2 else h0[0])
    state = list(state) if isinstance(state, tuple) else [state]
    for got, want in zip([out, *state], bptt_result(model, params, c), strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)


def test_rnn_only_writes_exactly_a_torch_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    model, params = build("gru", 2, True)  # with a readout
    path = save_safetensors(model, params, tmp_path / "w.safetensors", rnn_only=True)
    module = torch_rnn(torch, "gru", 2, True)
    module.load_state_dict(load_file(path))  # strict: no extra key
    assert set(load_file(path)) == set(module.state_dict())


@pytest.mark.parametrize("cell", CELLS)
def test_round_trip_keeps_every_parameter_config_and_vocabulary(tmp_path, cell):
    model, params = build(cell, 2, True, vocab_size=6, output_size=6, dtype=np.float64)
    path = save_safetensors(model, params, tmp_path / "m.safetensors", vocab=list("abcdef"))
    back = load_safetensors(path)
    assert back.model.config == model.config
    assert back.vocab == list("abcdef")
    assert list(back.params) == list(params)
    for name, value in params.items():
        np.testing.assert_array_equal(back.params[name], value)
        assert back.params[name].dtype == np.float64


def test_a_plain_torch_file_loads_with_its_cell(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    module = torch_rnn(torch, "lstm", 2, True).double()
    path = tmp_path / "torch.safetensors"
    save_file(module.state_dict(), str(path))
    model, params, vocab = load_safetensors(path, cell="lstm")
    assert (model.config.num_layers, model.config.bidirectional, vocab) == (2, True, None)
    c = case(model, padded=False, carried=False, dtype=np.float64)
    with torch.no_grad():
        out, _ = module(torch.from_numpy(c["inputs"]))
    np.testing.assert_allclose(bptt_result(model, params, c)[0], out.numpy(), rtol=1e-10)
    with pytest.raises(BpttError, match="has no bptt metadata; pass `cell`"):
        load_safetensors(path)


def test_unreadable_missing_and_mismatched_files(tmp_path):
    with pytest.raises(BpttFileNotFoundError, match="does not exist"):
        load_safetensors(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(BpttError, match=r"Cannot read .* as safetensors"):
        load_safetensors(bad)
    model, params = build("gru")
    path = save_safetensors(model, params, tmp_path / "g.safetensors")
    with pytest.raises(BpttError, match="holds a 'gru' model, not 'lstm'"):
        load_safetensors(path, cell="lstm")
    with pytest.raises(BpttError, match="Cannot write"):
        save_safetensors(model, params, tmp_path / "no" / "dir.safetensors")
