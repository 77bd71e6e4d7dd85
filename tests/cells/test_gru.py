"""GRUCell (reset gate inside the hidden product, as PyTorch): one step of math, on its own."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bptt.cells import GRUCarry, GRUCell, GRUParams
from bptt.engine import forward
from bptt.testing import numerical_gradient, random_linear_loss, relative_error

T, B, D, H = 5, 3, 4, 6


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_params_shapes_and_dtypes(dtype):
    params = GRUCell().init_params(np.random.default_rng(0), D, H, dtype=dtype)
    assert isinstance(params, GRUParams)
    assert [p.shape for p in params] == [(D, 3 * H), (H, 3 * H), (3 * H,), (H,)]
    assert all(p.dtype == dtype for p in params)
    bound = 1.0 / np.sqrt(H)
    assert all(np.abs(p).max() <= bound for p in params)


def test_step_backward_matches_finite_differences():
    """dxp, dh_prev by finite differences, and dhp as the gradient of hp = h_prev @ W_h."""
    cell = GRUCell()
    rng = np.random.default_rng(1)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xp = rng.standard_normal((B, 3 * H))
    h_prev = rng.standard_normal((B, H))
    (g,), loss = random_linear_loss(rng, (B, H))

    def f():
        return loss(cell.step_forward(params, xp, GRUCarry(h_prev))[0].h)

    _, cache = cell.step_forward(params, xp, GRUCarry(h_prev))
    dcarry_prev, dxp, dhp = cell.step_backward(params, cache, GRUCarry(g))
    for analytic, x in ((dxp, xp), (dcarry_prev.h, h_prev)):
        numeric = numerical_gradient(f, x)
        assert relative_error(analytic, numeric) < 1e-7
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)

    # dhp is dL/dhp for hp = h_prev @ W_h (B, 3H); check it through what it feeds:
    # dW_h = h_prev^T dhp and db_hn = the n block of dhp summed over the batch.
    numeric_W_h = numerical_gradient(f, params.W_h)
    assert_allclose(h_prev.T @ dhp, numeric_W_h, rtol=1e-5, atol=1e-8)
    numeric_b_hn = numerical_gradient(f, params.b_hn)
    assert_allclose(dhp[:, 2 * H :].sum(axis=0), numeric_b_hn, rtol=1e-5, atol=1e-8)

    # Only the n block differs, by the reset gate.
    np.testing.assert_array_equal(dhp[:, : 2 * H], dxp[:, : 2 * H])
    assert_allclose(dhp[:, 2 * H :], cache.r * dxp[:, 2 * H :], rtol=1e-15, atol=0)
    assert not np.shares_memory(dhp, dxp)


def test_one_step_weight_grads_match_finite_differences():
    cell = GRUCell()
    rng = np.random.default_rng(2)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    x = rng.standard_normal((1, B, D))
    h_prev = rng.standard_normal((B, H))
    (g,), loss = random_linear_loss(rng, (B, H))

    def f():
        xp = cell.input_projection(params, x)
        return loss(cell.step_forward(params, xp[0], GRUCarry(h_prev))[0].h)

    _, cache = cell.step_forward(params, cell.input_projection(params, x)[0], GRUCarry(h_prev))
    _, dxp, dhp = cell.step_backward(params, cache, GRUCarry(g))
    grads, dxs = cell.weight_grads(params, x, h_prev[None], dxp[None], dhp[None])
    assert isinstance(grads, GRUParams)
    for analytic, wrt in (*zip(grads, params, strict=True), (dxs, x)):
        numeric = numerical_gradient(f, wrt)
        assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_forward_equals_the_docstring_loop():
    cell = GRUCell()
    rng = np.random.default_rng(3)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    W_x, W_h, b, b_hn = params

    h, expected = h0, []
    for t in range(T):
        xp, hp = xs[t] @ W_x + b, h @ W_h
        xp_r, xp_z, xp_n = np.split(xp, 3, axis=1)
        hp_r, hp_z, hp_n = np.split(hp, 3, axis=1)
        r = sigmoid(xp_r + hp_r)
        z = sigmoid(xp_z + hp_z)
        n = np.tanh(xp_n + r * (hp_n + b_hn))
        h = (1 - z) * n + z * h
        expected.append(h)

    carry, xp = GRUCarry(h0), cell.input_projection(params, xs)
    for t in range(T):
        carry, _ = cell.step_forward(params, xp[t], carry)
        assert_allclose(carry.h, expected[t], rtol=1e-12, atol=1e-14)
    hs, carry_T, _ = forward(cell, params, xs, GRUCarry(h0))
    assert_allclose(hs, np.stack(expected), rtol=1e-12, atol=1e-14)
    assert_allclose(carry_T.h, h, rtol=1e-12, atol=1e-14)


def test_step_forward_does_not_modify_its_inputs():
    cell = GRUCell()
    rng = np.random.default_rng(4)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xp, h = rng.standard_normal((B, 3 * H)), rng.standard_normal((B, H))
    before = [a.copy() for a in (*params, xp, h)]
    cell.step_forward(params, xp, GRUCarry(h))
    for a, b in zip((*params, xp, h), before, strict=True):
        np.testing.assert_array_equal(a, b)
