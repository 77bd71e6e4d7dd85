"""Local Jacobians, W_h norms and gate saturation against central differences and plain loops."""

import numpy as np
import pytest
from diagnostics_reference import fd_carry_jacobian

from bptt.cells import make_cell
from bptt.diagnostics import (
    carry_jacobian,
    gate_saturation,
    local_jacobian_norms,
    recurrent_weight_norms,
)
from bptt.model import Model, ModelConfig
from bptt.window import Batch

T, B, D, H = 5, 3, 4, 6
CELLS = ["rnn", "relu", "lstm", "gru"]


def _model(cell, scale=1.0, **config):
    model = Model(ModelConfig(cell=cell, input_size=D, hidden_size=H, output_size=2, **config))
    params = model.init(np.random.default_rng(0), dtype=np.float64)
    return model, {k: v * scale if "layers" in k else v for k, v in params.items()}


def _batch(seed=1, mask=None):
    xs = np.random.default_rng(seed).standard_normal((T, B, D))
    return Batch(xs, np.zeros((T, B, 2)), mask=mask)


@pytest.mark.parametrize("cell", CELLS)
def test_carry_jacobian_matches_finite_differences(cell):
    c = make_cell(cell)
    rng = np.random.default_rng(2)
    params = c.init_params(rng, D, H, dtype=np.float64)
    xp_t = c.input_projection(params, rng.standard_normal((1, B, D)))[0]
    carry = c.carry_type(*(rng.standard_normal((B, H)) for _ in c.carry_type._fields))
    cache_t = c.step_forward(params, xp_t, carry)[1]
    J = carry_jacobian(c, params, cache_t)
    n = H * len(c.carry_type._fields)  # (h, c) for LSTM
    assert J.shape == (B, n, n)
    np.testing.assert_allclose(J, fd_carry_jacobian(c, params, xp_t, carry), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cell", CELLS)
def test_local_jacobian_norms_are_mean_spectral_norms(cell):
    model, params = _model(cell, num_layers=2)
    mask = np.arange(T)[:, None] < np.array([5, 3, 4])[None, :]
    batch = _batch(mask=mask)
    norms = local_jacobian_norms(model, params, batch)
    # Brute force: replay the forward pass step by step, differentiate each step numerically.
    x = batch.inputs
    for name in model.layer_prefixes():
        p = model.cell_params(params, name)
        carry = model.cell.carry_type(*(np.zeros((B, H)) for _ in model.cell.carry_type._fields))
        xp = model.cell.input_projection(p, x)
        expected, hs = np.zeros(T), []
        for t in range(T):
            J = fd_carry_jacobian(model.cell, p, xp[t], carry)
            expected[t] = np.mean([np.linalg.norm(J[b], 2) for b in range(B) if mask[t, b]])
            new = model.cell.step_forward(p, xp[t], carry)[0]
            keep = mask[t][:, None]  # a padded step leaves the carry as it was
            carry = type(new)(*(np.where(keep, a, o) for a, o in zip(new, carry, strict=True)))
            hs.append(np.where(keep, new.h, 0.0))
        x = np.stack(hs)
        np.testing.assert_allclose(norms[name], expected, rtol=1e-6, err_msg=name)


def test_local_jacobian_norms_over_the_first_sequences():
    model, params = _model("gru")
    batch = _batch()
    first = local_jacobian_norms(model, params, batch, max_sequences=1)
    alone = local_jacobian_norms(model, params, batch._replace(inputs=batch.inputs[:, :1]))
    np.testing.assert_allclose(first["layers.0"], alone["layers.0"], rtol=1e-12)
    with pytest.raises(ValueError, match="`max_sequences` must be >= 1"):
        local_jacobian_norms(model, params, batch, max_sequences=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_weight_norms_are_largest_singular_values(cell):
    model, params = _model(cell, bidirectional=True)
    norms = recurrent_weight_norms(model, params)
    gates = {"rnn": "h", "lstm": "ifgo", "gru": "rzn"}[cell]
    for name in model.layer_prefixes():
        W_h = params[f"{name}.W_h"]
        # sigma_max^2 is the largest eigenvalue of W W^T: an independent route to the norm.
        assert norms[name]["all"] == pytest.approx(np.sqrt(np.linalg.eigvalsh(W_h @ W_h.T)[-1]))
        for j, g in enumerate(gates):
            block = W_h[:, j * H : (j + 1) * H]
            assert norms[name][g] == pytest.approx(np.sqrt(np.linalg.eigvalsh(block @ block.T)[-1]))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _plain_gates(cell, params, xs):
    """Gate activations (T, B, H) of a one-layer model, from the equations in plain NumPy."""
    W_x, W_h, b = params["layers.0.W_x"], params["layers.0.W_h"], params["layers.0.b"]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    out = {}
    for t in range(T):
        z = xs[t] @ W_x + b  # (B, G*H)
        hp = h @ W_h
        blocks = [z[:, j * H : (j + 1) * H] for j in range(z.shape[1] // H)]
        hblocks = [hp[:, j * H : (j + 1) * H] for j in range(z.shape[1] // H)]
        if cell == "lstm":
            i, f = _sigmoid(blocks[0] + hblocks[0]), _sigmoid(blocks[1] + hblocks[1])
            g, o = np.tanh(blocks[2] + hblocks[2]), _sigmoid(blocks[3] + hblocks[3])
            c = f * c + i * g
            h = o * np.tanh(c)
            gates = {"i": i, "f": f, "g": g, "o": o}
        elif cell == "gru":
            r, zz = _sigmoid(blocks[0] + hblocks[0]), _sigmoid(blocks[1] + hblocks[1])
            n = np.tanh(blocks[2] + r * (hblocks[2] + params["layers.0.b_hn"]))
            h = (1 - zz) * n + zz * h
            gates = {"r": r, "z": zz, "n": n}
        else:
            h = (
                np.tanh(blocks[0] + hblocks[0])
                if cell == "rnn"
                else np.maximum(blocks[0] + hblocks[0], 0.0)
            )
            gates = {"h": h}
        for name, a in gates.items():
            out.setdefault(name, []).append(a)
    return {name: np.stack(v) for name, v in out.items()}


@pytest.mark.parametrize("cell", CELLS)
def test_gate_saturation_matches_plain_equations(cell):
    model, params = _model(cell, scale=4.0)  # large weights: many saturated units
    batch = _batch(3)
    stats = gate_saturation(model, params, batch, margin=0.05, bins=10)["layers.0"]
    gates = _plain_gates(cell, params, batch.inputs)
    assert list(stats) == list(gates)
    for name, a in gates.items():
        s = stats[name]
        if s.kind == "sigmoid":
            low, high, span = np.mean(a < 0.05), np.mean(a > 0.95), (0, 1)
        elif s.kind == "tanh":
            low, high, span = np.mean(a < -0.95), np.mean(a > 0.95), (-1, 1)
        else:
            low, high, span = np.mean(a == 0), 0.0, (0, max(a.max(), 1.0))
        assert s.low == pytest.approx(low) and s.high == pytest.approx(high)
        assert s.saturated == pytest.approx(low + high)
        assert s.mean == pytest.approx(a.mean())
        counts, edges = np.histogram(a, bins=10, range=span)
        np.testing.assert_array_equal(s.counts, counts)
        np.testing.assert_allclose(s.edges, edges)
    assert max(s.saturated for s in stats.values()) > 0.1


def test_gate_saturation_counts_only_real_steps():
    model, params = _model("lstm")
    mask = np.arange(T)[:, None] < np.array([5, 2, 4])[None, :]
    stats = gate_saturation(model, params, _batch(4, mask))["layers.0"]
    assert stats["f"].counts.sum() == mask.sum() * H
    with pytest.raises(ValueError, match="`margin` must be in"):
        gate_saturation(model, params, _batch(4), margin=0.7)
