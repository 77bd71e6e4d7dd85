"""LSTMCell: one step of math, checked on its own."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bptt.cells import LSTMCarry, LSTMCell, LSTMParams, make_cell
from bptt.engine import forward
from bptt.testing import numerical_gradient, random_linear_loss, relative_error

T, B, D, H = 5, 3, 4, 6


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_params_shapes_and_dtypes(dtype):
    params = LSTMCell().init_params(np.random.default_rng(0), D, H, dtype=dtype)
    assert isinstance(params, LSTMParams)
    assert [p.shape for p in params] == [(D, 4 * H), (H, 4 * H), (4 * H,)]
    assert all(p.dtype == dtype for p in params)
    bound = 1.0 / np.sqrt(H)
    assert np.abs(params.W_x).max() <= bound and np.abs(params.W_h).max() <= bound


@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_forget_bias_is_added_to_the_f_block_only(forget_bias):
    cell = LSTMCell() if forget_bias == 1.0 else LSTMCell(forget_bias=forget_bias)
    assert make_cell("lstm", forget_bias=forget_bias).forget_bias == forget_bias
    params = cell.init_params(np.random.default_rng(0), D, H, dtype=np.float64)
    plain = LSTMCell(forget_bias=0.0).init_params(np.random.default_rng(0), D, H, dtype=np.float64)
    shift = np.zeros(4 * H)
    shift[H : 2 * H] = forget_bias  # gate order i, f, g, o
    assert_allclose(params.b, plain.b + shift, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(params.W_x, plain.W_x)
    np.testing.assert_array_equal(params.W_h, plain.W_h)


def test_forget_bias_default_is_one():
    assert LSTMCell().forget_bias == 1.0
    b = LSTMCell().init_params(np.random.default_rng(0), D, H, dtype=np.float32).b
    f_block = b[H : 2 * H]
    assert b.dtype == np.float32
    assert (np.abs(f_block - 1.0) <= 1.0 / np.sqrt(H)).all()
    assert (np.abs(np.delete(b, np.s_[H : 2 * H])) <= 1.0 / np.sqrt(H)).all()


def test_step_backward_matches_finite_differences():
    cell = LSTMCell()
    rng = np.random.default_rng(1)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xp = rng.standard_normal((B, 4 * H))
    h_prev, c_prev = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    (g_h, g_c), loss = random_linear_loss(rng, (B, H), (B, H))

    def f():
        return loss(*cell.step_forward(params, xp, LSTMCarry(h_prev, c_prev))[0])

    _, cache = cell.step_forward(params, xp, LSTMCarry(h_prev, c_prev))
    dcarry_prev, dxp, dhp = cell.step_backward(params, cache, LSTMCarry(g_h, g_c))
    assert dhp is dxp
    assert isinstance(dcarry_prev, LSTMCarry)
    for analytic, x in ((dxp, xp), (dcarry_prev.h, h_prev), (dcarry_prev.c, c_prev)):
        numeric = numerical_gradient(f, x)
        assert relative_error(analytic, numeric) < 1e-7
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_one_step_weight_grads_match_finite_differences():
    cell = LSTMCell()
    rng = np.random.default_rng(2)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    x = rng.standard_normal((1, B, D))
    h_prev, c_prev = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    (g_h, g_c), loss = random_linear_loss(rng, (B, H), (B, H))

    def step():
        xp = cell.input_projection(params, x)
        return cell.step_forward(params, xp[0], LSTMCarry(h_prev, c_prev))

    _, cache = step()
    _, dxp, dhp = cell.step_backward(params, cache, LSTMCarry(g_h, g_c))
    grads, dxs = cell.weight_grads(params, x, h_prev[None], dxp[None], dhp[None])
    assert isinstance(grads, LSTMParams)
    for analytic, wrt in (*zip(grads, params, strict=True), (dxs, x)):
        numeric = numerical_gradient(lambda: loss(*step()[0]), wrt)
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_forward_equals_the_docstring_loop():
    cell = LSTMCell()
    rng = np.random.default_rng(3)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    W_x, W_h, b = params

    h, c, expected = h0, c0, []
    for t in range(T):
        z = xs[t] @ W_x + b + h @ W_h
        z_i, z_f, z_g, z_o = np.split(z, 4, axis=1)
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), np.tanh(z_g), sigmoid(z_o)
        c = f * c + i * g
        h = o * np.tanh(c)
        expected.append((h, c))

    carry, xp = LSTMCarry(h0, c0), cell.input_projection(params, xs)
    for t in range(T):
        carry, _ = cell.step_forward(params, xp[t], carry)
        assert_allclose(carry.h, expected[t][0], rtol=1e-12, atol=1e-14)
        assert_allclose(carry.c, expected[t][1], rtol=1e-12, atol=1e-14)
    hs, carry_T, _ = forward(cell, params, xs, LSTMCarry(h0, c0))
    assert_allclose(hs, np.stack([e[0] for e in expected]), rtol=1e-12, atol=1e-14)
    assert_allclose(carry_T.h, h, rtol=1e-12, atol=1e-14)
    assert_allclose(carry_T.c, c, rtol=1e-12, atol=1e-14)


def test_step_forward_does_not_modify_its_inputs():
    cell = LSTMCell()
    rng = np.random.default_rng(4)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xp, h, c = rng.standard_normal((B, 4 * H)), rng.standard_normal((B, H)), np.ones((B, H))
    before = [a.copy() for a in (*params, xp, h, c)]
    cell.step_forward(params, xp, LSTMCarry(h, c))
    for a, b in zip((*params, xp, h, c), before, strict=True):
        np.testing.assert_array_equal(a, b)
