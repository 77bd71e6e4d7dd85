"""Helpers shared by the cells: the input projection of every step at once."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from bptt.cells import GRUCell, LSTMCell, RNNCell


@pytest.mark.parametrize("cell", [RNNCell(), LSTMCell(), GRUCell()], ids=lambda c: c.name)
@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 5),
    D=st.integers(1, 5),
    H=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_fused_input_projection_equals_a_per_step_loop(cell, T, B, D, H, dtype, seed):
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    xp = cell.input_projection(params, xs)
    assert xp.shape == (T, B, cell.num_gates * H) and xp.dtype == dtype
    loop = np.stack([xs[t] @ params.W_x + params.b for t in range(T)])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(xp, loop, rtol=rtol, atol=rtol)
