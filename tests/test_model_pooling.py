"""Readouts over time (mean, max, meanmax, attention): finite differences and PyTorch, float64."""

import numpy as np
import pytest

from bptt.model import Model, ModelConfig
from bptt.testing import check_model_gradients, numerical_gradient, relative_error

T, B, D, H, O = 5, 3, 4, 6, 2  # noqa: E741 (O: output features, as in types.py)
LENGTHS = np.array([5, 2, 4])
POOLINGS = ["mean", "max", "meanmax", "attention"]


def _mask():
    return np.arange(T)[:, None] < LENGTHS[None, :]


def _sharpened(params, rng):
    """Attention weights large enough that their gradients stand out from finite-difference
    noise (at initialisation the scores are nearly flat and dv, db are ~1e-3)."""
    for name in ("attention.W", "attention.v", "attention.b"):
        if name in params:
            params[name] = 3.0 * rng.standard_normal(params[name].shape)
    return params


@pytest.mark.parametrize("readout", ["mean", "max", "meanmax"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_pooled_readout_gradients(readout, bidirectional):
    cfg = ModelConfig(
        cell="gru",
        input_size=D,
        hidden_size=H,
        num_layers=1 if bidirectional else 2,
        bidirectional=bidirectional,
        output_size=O,
        readout=readout,
    )
    errors = check_model_gradients(cfg, seq_len=T, batch_size=B, lengths=LENGTHS)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def _gradient_errors(cfg, *, train=False, seed=0):
    """Relative error of every parameter's and the inputs' gradient against central
    differences, for a loss that is a random linear function of the outputs."""
    rng = np.random.default_rng(seed)
    model = Model(cfg)
    params = _sharpened(model.init(rng, dtype=np.float64), rng)
    xs = rng.standard_normal((T, B, D))
    weights = rng.standard_normal((B, O))

    def run():
        return model.forward(
            params, xs, mask=_mask(), train=train, rng=np.random.default_rng(seed + 1)
        )

    def loss():
        return float((run()[0] * weights).sum())

    _, _, cache = run()
    grads, dxs, _ = model.backward(params, cache, weights)
    errors = {"inputs": relative_error(dxs, numerical_gradient(loss, xs))}
    for name, value in params.items():
        errors[name] = relative_error(grads[name], numerical_gradient(loss, value))
    return errors


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_attention_readout_gradients(cell, bidirectional):
    cfg = ModelConfig(
        cell=cell,
        input_size=D,
        hidden_size=H,
        bidirectional=bidirectional,
        output_size=O,
        readout="attention",
    )
    errors = _gradient_errors(cfg)
    assert {"attention.W", "attention.b", "attention.v"} <= set(errors)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


@pytest.mark.parametrize("readout", ["last", "meanmax", "attention"])
def test_readout_dropout_gradients(readout):
    cfg = ModelConfig(
        cell="gru",
        input_size=D,
        hidden_size=H,
        output_size=O,
        readout=readout,
        readout_dropout=0.4,
    )
    errors = _gradient_errors(cfg, train=True)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_readout_dropout_is_off_in_evaluation_and_drops_in_training():
    cfg = ModelConfig(cell="gru", input_size=D, hidden_size=H, output_size=O, readout="mean")
    dropped = ModelConfig(**{**cfg.__dict__, "readout_dropout": 0.5})
    params = Model(cfg).init(np.random.default_rng(0))
    xs = np.random.default_rng(1).standard_normal((T, B, D)).astype(np.float32)
    plain = Model(cfg).forward(params, xs)[0]
    np.testing.assert_array_equal(Model(dropped).forward(params, xs)[0], plain)
    trained = Model(dropped).forward(params, xs, train=True, rng=np.random.default_rng(2))[0]
    assert not np.allclose(trained, plain)
    with pytest.raises(ValueError, match="`rng` is required"):
        Model(dropped).forward(params, xs, train=True)


def test_pooling_reads_only_valid_steps():
    """Changing padded inputs changes nothing; mean and max are the plain reductions."""
    cfg = ModelConfig(cell="rnn", input_size=D, hidden_size=H, readout="meanmax")
    model = Model(cfg)
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    xs = np.random.default_rng(1).standard_normal((T, B, D))
    features, _, _ = model.forward(params, xs, mask=_mask())
    xs2 = np.where(_mask()[..., None], xs, 100.0)
    np.testing.assert_array_equal(model.forward(params, xs2, mask=_mask())[0], features)
    assert features.shape == (B, 2 * H)
    hs = Model(ModelConfig(cell="rnn", input_size=D, hidden_size=H)).forward(params, xs)[0]
    for b, n in enumerate(LENGTHS):
        run = Model(ModelConfig(cell="rnn", input_size=D, hidden_size=H))
        h = run.forward(params, xs[:n, b : b + 1])[0][:, 0]  # (n, H) the sequence alone
        np.testing.assert_allclose(features[b, :H], h.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(features[b, H:], h.max(axis=0), rtol=1e-12)
    assert hs.shape == (T, B, H)


def test_parameters_and_errors():
    model = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, output_size=O,
                              bidirectional=True, readout="attention"))  # fmt: skip
    params = model.init(np.random.default_rng(0))
    assert params["attention.W"].shape == (2 * H, H)
    assert params["attention.v"].shape == (H,) and params["readout.W"].shape == (2 * H, O)
    assert list(params) == model.parameter_names()
    meanmax = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, output_size=O,
                                readout="meanmax"))  # fmt: skip
    assert meanmax.init(np.random.default_rng(0))["readout.W"].shape == (2 * H, O)
    with pytest.raises(ValueError, match="readout"):
        ModelConfig(input_size=D, readout="median")
    with pytest.raises(ValueError, match="readout_dropout"):
        ModelConfig(input_size=D, readout_dropout=1.0)
    xs = np.zeros((T, B, D), dtype=np.float32)
    empty = _mask()
    empty[:, 1] = False
    with pytest.raises(ValueError, match=r"sequences \[1\] have none"):
        model.forward(params, xs, mask=empty)


def test_defaults_draw_what_they_drew_before():
    """Without the new options a model draws its parameters in the same order as before:
    the cell's, then the readout's (no attention weights in between)."""
    from bptt.cells import make_cell

    cfg = ModelConfig(cell="lstm", input_size=D, hidden_size=H, output_size=O)
    params = Model(cfg).init(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    cell_params = make_cell("lstm").init_params(rng, D, H)
    bound = 1.0 / np.sqrt(H)
    expected = [*cell_params, rng.uniform(-bound, bound, (H, O)), rng.uniform(-bound, bound, O)]
    assert len(params) == len(expected)
    for got, want in zip(params.values(), expected, strict=True):
        np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32))


# -- PyTorch reference ------------------------------------------------------------------------
def _torch_pooled(torch, cell, params, model, xs, readout, weights):
    """The same model in torch (packed sequence, masked pooling, Linear), float64."""
    from torch_reference import _grads_of, _suffixes, torch_module

    cfg = model.config
    prefixes = model.layer_prefixes()
    params_list = [model.cell_params(params, p) for p in prefixes]
    module = torch_module(cell, params_list, cfg.num_layers, cfg.bidirectional)
    x = torch.tensor(xs, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.as_tensor(LENGTHS), enforce_sorted=False
    )
    out, _ = module(packed)
    hs, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)  # (T, B, H_out)
    mask = torch.as_tensor(_mask())[..., None]
    extra = {k: torch.tensor(v, requires_grad=True) for k, v in params.items() if "attention" in k}
    parts = []
    if readout in ("mean", "meanmax"):
        parts.append((hs * mask).sum(0) / mask.sum(0))
    if readout in ("max", "meanmax"):
        parts.append(hs.masked_fill(~mask, -torch.inf).amax(0))
    if readout == "attention":
        scores = torch.tanh(hs @ extra["attention.W"] + extra["attention.b"]) @ extra["attention.v"]
        alpha = torch.softmax(scores.masked_fill(~mask[..., 0], -torch.inf), dim=0)
        parts.append((alpha[..., None] * hs).sum(0))
    W = torch.tensor(params["readout.W"], requires_grad=True)
    b = torch.tensor(params["readout.b"], requires_grad=True)
    logits = torch.cat(parts, dim=-1) @ W + b
    (logits * torch.tensor(weights)).sum().backward()
    grads = {"readout.W": W.grad.numpy(), "readout.b": b.grad.numpy()}
    grads.update({k: t.grad.numpy() for k, t in extra.items()})
    for prefix, suffix in zip(prefixes, _suffixes(cfg.num_layers, cfg.bidirectional), strict=True):
        g = _grads_of(cell, module, suffix)
        grads.update({f"{prefix}.{f}": v for f, v in zip(g._fields, g, strict=True)})
    return logits.detach().numpy(), grads, x.grad.numpy()


@pytest.mark.parametrize("readout", POOLINGS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_against_torch(readout, cell):
    torch = pytest.importorskip("torch")
    cfg = ModelConfig(
        cell=cell,
        input_size=D,
        hidden_size=H,
        num_layers=2,
        bidirectional=True,
        output_size=O,
        readout=readout,
    )
    model = Model(cfg)
    rng = np.random.default_rng(3)
    params = _sharpened(model.init(rng, dtype=np.float64), rng)
    xs = rng.standard_normal((T, B, D))
    weights = rng.standard_normal((B, O))
    logits, _, cache = model.forward(params, xs, mask=_mask())
    grads, dxs, _ = model.backward(params, cache, weights)
    ref_logits, ref_grads, ref_dxs = _torch_pooled(torch, cell, params, model, xs, readout, weights)
    assert relative_error(logits, ref_logits) < 1e-10
    assert relative_error(dxs, ref_dxs) < 1e-10
    assert set(ref_grads) == set(grads)
    for name, value in grads.items():
        assert relative_error(value, ref_grads[name]) < 1e-10, name


def test_export_refuses_a_pooled_readout():
    from bptt.export.exportable import check_exportable

    model = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, output_size=O,
                              readout="max"))  # fmt: skip
    with pytest.raises(ValueError, match="pooling over time"):
        check_exportable(model, model.init(np.random.default_rng(0)))
