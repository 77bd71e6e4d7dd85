"""PyTorch weight layout, and model parity with torch.nn.RNN/LSTM/GRU in float64."""

import numpy as np
import pytest

from bptt.interop import from_torch_state_dict, to_torch_state_dict
from bptt.model import Model, ModelConfig
from bptt.testing import relative_error

torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install torch==2.13.0")

T, B, D, H = 5, 3, 4, 6
MODULES = {"rnn": "tanh", "relu": "relu", "lstm": None, "gru": None}


def _torch_module(cell, num_layers, bidirectional, state):
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional}
    if cell in ("rnn", "relu"):
        module = torch.nn.RNN(D, H, nonlinearity=MODULES[cell], **kwargs)
    else:
        module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, **kwargs)
    module = module.double()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return module


def _compare(cell, num_layers, bidirectional, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    cfg = ModelConfig(
        cell=cell,
        input_size=D,
        hidden_size=H,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )
    model = Model(cfg)
    params = model.init(rng, dtype=np.float64)
    n = len(model.layer_prefixes())
    xs = rng.standard_normal((T, B, D))
    fields = model.cell.carry_type._fields
    carries0 = tuple(
        model.cell.carry_type(*(0.5 * rng.standard_normal((B, H)) for _ in fields))
        for _ in range(n)
    )
    mask = None if lengths is None else np.arange(T)[:, None] < np.asarray(lengths)[None, :]
    hs, carries, cache = model.forward(params, xs, mask=mask, carries0=carries0)
    g_hs = rng.standard_normal(hs.shape)
    g_carry = [[rng.standard_normal((B, H)) for _ in fields] for _ in range(n)]
    dcarries_T = [model.cell.carry_type(*g) for g in g_carry]
    grads, dxs, dcarries0 = model.backward(params, cache, g_hs, dcarries_T)

    module = _torch_module(cell, num_layers, bidirectional, to_torch_state_dict(params, cell))
    x = torch.tensor(xs, requires_grad=True)
    h0 = torch.tensor(np.stack([c.h for c in carries0]), requires_grad=True)
    state0 = h0
    if cell == "lstm":
        c0 = torch.tensor(np.stack([c.c for c in carries0]), requires_grad=True)
        state0 = (h0, c0)
    if lengths is None:
        out, state_n = module(x, state0)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths), enforce_sorted=False
        )
        out_packed, state_n = module(packed, state0)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, total_length=T)
    finals = state_n if cell == "lstm" else (state_n,)
    loss = (out * torch.tensor(g_hs)).sum()
    for j, final in enumerate(finals):
        loss = loss + (final * torch.tensor(np.stack([g[j] for g in g_carry]))).sum()
    loss.backward()

    errors = {"hs": relative_error(hs, out.detach().numpy())}
    for j, final in enumerate(finals):
        ours = np.stack([c[j] for c in carries])
        errors[f"final.{fields[j]}"] = relative_error(ours, final.detach().numpy())
    errors["dxs"] = relative_error(dxs, x.grad.numpy())
    errors["dh0"] = relative_error(np.stack([c.h for c in dcarries0]), h0.grad.numpy())
    if cell == "lstm":
        errors["dc0"] = relative_error(np.stack([c.c for c in dcarries0]), c0.grad.numpy())
    torch_grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    ours_as_torch = to_torch_state_dict(grads, cell)
    for key, value in torch_grads.items():
        if key.startswith("bias_hh") and cell == "gru":
            errors[key] = relative_error(ours_as_torch[key][2 * H :], value[2 * H :])
        elif key.startswith("bias_hh"):
            errors[key] = relative_error(ours_as_torch[key.replace("hh", "ih")], value)
        else:
            errors[key] = relative_error(ours_as_torch[key], value)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-10, (worst, errors[worst])
    return errors


@pytest.mark.parametrize("cell", list(MODULES))
@pytest.mark.parametrize(
    ("num_layers", "bidirectional"), [(1, False), (3, False), (1, True), (2, True)]
)
def test_parity_with_torch(cell, num_layers, bidirectional):
    _compare(cell, num_layers, bidirectional)


@pytest.mark.parametrize("cell", list(MODULES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parity_with_pack_padded_sequence(cell, bidirectional):
    _compare(cell, 2, bidirectional, lengths=[5, 2, 4])


@pytest.mark.parametrize("cell", list(MODULES))
def test_export_then_import_is_exact(cell):
    cfg = ModelConfig(cell=cell, input_size=D, hidden_size=H, num_layers=2, bidirectional=True)
    params = Model(cfg).init(np.random.default_rng(0), dtype=np.float64)
    back = from_torch_state_dict(to_torch_state_dict(params, cell), cell)
    assert list(back) == list(params)
    for key, value in params.items():
        np.testing.assert_array_equal(back[key], value)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_import_of_torch_default_init_computes_the_same_function(cell):
    torch.manual_seed(0)
    kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = kind(D, H, num_layers=2).double()  # nonzero bias_hh, as torch initialises it
    params = from_torch_state_dict(
        {k: v.detach().numpy() for k, v in module.state_dict().items()}, cell
    )
    model = Model(ModelConfig(cell=cell, input_size=D, hidden_size=H, num_layers=2))
    xs = np.random.default_rng(1).standard_normal((T, B, D))
    ours, _, _ = model.forward(params, xs)
    theirs, _ = module(torch.tensor(xs))
    assert relative_error(ours, theirs.detach().numpy()) < 1e-12


def test_rejects_foreign_keys_and_wrong_cell():
    state = to_torch_state_dict(
        Model(ModelConfig(cell="gru", input_size=D, hidden_size=H)).init(np.random.default_rng(0)),
        "gru",
    )
    with pytest.raises(ValueError, match=r"a lstm layer needs \(4\*H, H\)"):
        from_torch_state_dict(state, "lstm")
    with pytest.raises(ValueError, match="'weight_hr_l0' is not"):
        from_torch_state_dict({**state, "weight_hr_l0": np.zeros(2)}, "gru")
