"""Resets: a True entry zeroes one sequence's carry before a step and stops the gradient there."""

import numpy as np
import pytest

from bptt.cells import GRUCell, LSTMCell, RNNCell
from bptt.engine import backward, forward
from bptt.model import Model, ModelConfig
from bptt.testing import numerical_gradient, relative_error

T, B, D, H = 6, 3, 4, 5
CELLS = [RNNCell("tanh"), LSTMCell(), GRUCell()]


def _resets():
    resets = np.zeros((T, B), dtype=bool)
    resets[3, 0] = True  # sequence 0: a new document starts at step 3
    resets[1, 2] = resets[4, 2] = True
    return resets


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_reset_equals_restarting_from_zero(cell):
    rng = np.random.default_rng(0)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, 1, D))
    carry0 = cell.carry_type(*(rng.standard_normal((1, H)) for _ in cell.carry_type._fields))
    resets = np.zeros((T, 1), dtype=bool)
    resets[3, 0] = True
    hs, carry_T, tape = forward(cell, params, xs, carry0, resets=resets)
    hs_a, _, _ = forward(cell, params, xs[:3], carry0)
    hs_b, carry_b, _ = forward(cell, params, xs[3:])
    np.testing.assert_array_equal(hs, np.concatenate([hs_a, hs_b]))
    np.testing.assert_array_equal(carry_T.h, carry_b.h)
    g = rng.standard_normal(hs.shape)
    _, dxs, dcarry0 = backward(cell, params, tape, g)
    _, dxs_a, dcarry0_a = backward(cell, params, forward(cell, params, xs[:3], carry0)[2], g[:3])
    np.testing.assert_allclose(dcarry0.h, dcarry0_a.h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dxs[:3], dxs_a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
def test_resets_finite_differences(cell):
    rng = np.random.default_rng(1)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    carry0 = cell.carry_type(*(rng.standard_normal((B, H)) for _ in cell.carry_type._fields))
    mask = np.ones((T, B), dtype=bool)
    mask[5:, 1] = False
    g = rng.standard_normal((T, B, H))
    g[0, 2] = 0.0  # sequence 2 then has no loss before its reset at step 1
    g_T = [rng.standard_normal((B, H)) for _ in carry0]

    def loss():
        hs, carry_T, _ = forward(cell, params, xs, carry0, mask, _resets())
        return float(np.sum(g * hs) + sum(np.sum(w * a) for w, a in zip(g_T, carry_T, strict=True)))

    _, _, tape = forward(cell, params, xs, carry0, mask, _resets())
    grads, dxs, dcarry0 = backward(cell, params, tape, g, cell.carry_type(*g_T))
    for field, value in zip(params._fields, params, strict=True):
        err = relative_error(getattr(grads, field), numerical_gradient(loss, value))
        assert err < 1e-6, field
    assert relative_error(dxs, numerical_gradient(loss, xs)) < 1e-6
    for field, value in zip(carry0._fields, carry0, strict=True):
        assert relative_error(getattr(dcarry0, field), numerical_gradient(loss, value)) < 1e-6
    # Sequence 2 is reset at step 1: its initial carry no longer reaches the loss.
    assert all(np.all(d[2] == 0) for d in dcarry0)


def test_model_resets_every_layer_and_rejects_bidirectional():
    rng = np.random.default_rng(2)
    model = Model(ModelConfig(cell="lstm", vocab_size=7, hidden_size=H, num_layers=2))
    params = model.init(rng, dtype=np.float64)
    ids = rng.integers(0, 7, (T, B))
    out, _, _ = model.forward(params, ids, resets=_resets())
    alone, _, _ = model.forward(params, ids[3:, :1])
    np.testing.assert_allclose(out[3:, 0], alone[:, 0], rtol=1e-12, atol=1e-15)
    bidi = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, bidirectional=True))
    with pytest.raises(ValueError, match=r"`resets`.*unidirectional"):
        bidi.forward(bidi.init(rng), rng.standard_normal((T, B, D)), resets=_resets())
