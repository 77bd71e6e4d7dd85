"""RNNCell (tanh, ReLU) and the IRNN initialisation: one step of math, checked on its own."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bptt.cells import RNNCarry, RNNCell, RNNParams, make_cell
from bptt.engine import forward
from bptt.testing import numerical_gradient, random_linear_loss, relative_error

T, B, D, H = 5, 3, 4, 6
ACTIVATIONS = ("tanh", "relu")


def away_from_kink(rng, h_prev, W_h, *, margin=0.1):
    """An xp (B, H) that puts every pre-activation at least ``margin`` away from 0."""
    z = rng.uniform(margin, 1.0, size=(B, H)) * rng.choice((-1.0, 1.0), size=(B, H))
    return z - h_prev @ W_h  # (B, H)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_params_shapes_and_dtypes(dtype):
    params = RNNCell().init_params(np.random.default_rng(0), D, H, dtype=dtype)
    assert isinstance(params, RNNParams)
    assert [p.shape for p in params] == [(D, H), (H, H), (H,)]
    assert all(p.dtype == dtype for p in params)
    bound = 1.0 / np.sqrt(H)
    assert all(np.abs(p).max() <= bound for p in params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_irnn_init_is_identity_zero_bias_and_small_input_weights(dtype):
    params = RNNCell("relu").init_irnn(np.random.default_rng(0), D, H, dtype=dtype)
    assert all(p.dtype == dtype for p in params)
    assert params.W_x.shape == (D, H)
    np.testing.assert_array_equal(params.W_h, np.eye(H))
    np.testing.assert_array_equal(params.b, np.zeros(H))
    assert 0 < np.abs(params.W_x).max() < 0.01  # N(0, 0.001^2)
    scaled = RNNCell("relu").init_irnn(np.random.default_rng(0), D, H, input_scale=0.5)
    assert_allclose(scaled.W_x, params.W_x * 500, rtol=1e-5)


def test_irnn_copies_the_state_when_the_input_is_zero():
    cell = make_cell("irnn")
    params = cell.init_irnn(np.random.default_rng(0), D, H, dtype=np.float64)
    h0 = np.abs(np.random.default_rng(1).standard_normal((B, H)))
    hs, carry_T, _ = forward(cell, params, np.zeros((T, B, D)), RNNCarry(h0))
    np.testing.assert_array_equal(carry_T.h, h0)
    np.testing.assert_array_equal(hs, np.broadcast_to(h0, (T, B, H)))


def test_make_cell_names_and_bad_activation():
    assert make_cell("rnn").activation == "tanh"
    assert make_cell("relu").activation == "relu"
    assert make_cell("irnn").activation == "relu"
    with pytest.raises(ValueError, match=r"`activation` must be one of .*got 'sigmoid'"):
        RNNCell("sigmoid")
    with pytest.raises(ValueError, match=r"Unknown cell 'elman'; expected one of rnn, relu"):
        make_cell("elman")


def test_init_params_rejects_bad_sizes_and_dtypes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"`input_size` must be a positive integer, got 0"):
        RNNCell().init_params(rng, 0, H)
    with pytest.raises(ValueError, match=r"`hidden_size` must be a positive integer, got 2.5"):
        RNNCell().init_params(rng, D, 2.5)
    with pytest.raises(TypeError, match=r"`dtype` must be float32 or float64, got int32"):
        RNNCell().init_params(rng, D, H, dtype=np.int32)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_backward_matches_finite_differences(activation):
    cell = RNNCell(activation)
    rng = np.random.default_rng(1)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    h_prev = rng.standard_normal((B, H))
    xp = away_from_kink(rng, h_prev, params.W_h)
    (g,), loss = random_linear_loss(rng, (B, H))

    def f():
        return loss(cell.step_forward(params, xp, RNNCarry(h_prev))[0].h)

    _, cache = cell.step_forward(params, xp, RNNCarry(h_prev))
    dcarry_prev, dxp, dhp = cell.step_backward(params, cache, RNNCarry(g))
    assert dhp is dxp  # one pre-activation: both projections get the same gradient
    for analytic, x in ((dxp, xp), (dcarry_prev.h, h_prev)):
        numeric = numerical_gradient(f, x)
        assert relative_error(analytic, numeric) < 1e-7
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    if activation == "relu":
        assert (dxp[cache.h == 0] == 0).all() and (cache.h == 0).any()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_one_step_weight_grads_match_finite_differences(activation):
    cell = RNNCell(activation)
    rng = np.random.default_rng(2)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    h_prev = rng.standard_normal((B, H))
    x = rng.standard_normal((1, B, D))
    z = x[0] @ params.W_x + params.b + h_prev @ params.W_h
    assert np.abs(z).min() > 1e-3  # this seed keeps every pre-activation off the ReLU kink
    (g,), loss = random_linear_loss(rng, (B, H))

    def f():
        xp = cell.input_projection(params, x)
        return loss(cell.step_forward(params, xp[0], RNNCarry(h_prev))[0].h)

    _, cache = cell.step_forward(params, cell.input_projection(params, x)[0], RNNCarry(h_prev))
    _, dxp, dhp = cell.step_backward(params, cache, RNNCarry(g))
    grads, dxs = cell.weight_grads(params, x, h_prev[None], dxp[None], dhp[None])
    assert isinstance(grads, RNNParams)
    for analytic, wrt in (*zip(grads, params, strict=True), (dxs, x)):
        numeric = numerical_gradient(f, wrt)
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_equals_the_docstring_loop(activation):
    cell = RNNCell(activation)
    rng = np.random.default_rng(3)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    act = np.tanh if activation == "tanh" else (lambda a: np.maximum(a, 0.0))
    W_x, W_h, b = params

    h, expected = h0, []
    for t in range(T):
        h = act(xs[t] @ W_x + b + h @ W_h)
        expected.append(h)

    carry, xp = RNNCarry(h0), cell.input_projection(params, xs)
    for t in range(T):
        carry, _ = cell.step_forward(params, xp[t], carry)
        assert_allclose(carry.h, expected[t], rtol=1e-12, atol=1e-14)
    hs, carry_T, _ = forward(cell, params, xs, RNNCarry(h0))
    assert_allclose(hs, np.stack(expected), rtol=1e-12, atol=1e-14)
    assert_allclose(carry_T.h, h, rtol=1e-12, atol=1e-14)
