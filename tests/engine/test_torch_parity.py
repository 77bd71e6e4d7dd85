"""PyTorch parity, one layer: our engine against torch.nn.RNN / LSTM / GRU and the *Cell
modules in double precision, with our weights loaded (see tests/torch_reference.py).

Outputs, final carry, every parameter gradient, dxs and dcarry0 agree to 1e-10.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")

from bptt.cells import GRUCell, LSTMCell, RNNCell  # noqa: E402
from bptt.engine import backward, forward  # noqa: E402
from bptt.testing import relative_error  # noqa: E402
from torch_reference import torch_forward_backward, torch_step  # noqa: E402

T, B, D, H = 5, 3, 4, 6
LENGTHS = (5, 1, 3)
TOL = 1e-10
CELLS = {"rnn": RNNCell("tanh"), "relu": RNNCell("relu"), "lstm": LSTMCell(), "gru": GRUCell()}


def setup(name, seed):
    cell = CELLS[name]
    rng = np.random.default_rng(seed)
    params = cell.init_params(rng, D, H, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    fields = cell.carry_type._fields
    carry0 = cell.carry_type(*(rng.standard_normal((B, H)) for _ in fields))  # nonzero
    dhs = rng.standard_normal((T, B, H))
    dcarry_T = cell.carry_type(*(rng.standard_normal((B, H)) for _ in fields))
    return cell, params, xs, carry0, dhs, dcarry_T


def compare(label, ours, theirs):
    assert np.shape(ours) == np.shape(theirs), label
    err = relative_error(ours, theirs)
    assert err < TOL, f"{label}: relative error {err:.2e}"
    return err


@pytest.mark.parametrize("masked", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("name", list(CELLS))
def test_module_parity(name, masked):
    cell, params, xs, carry0, dhs, dcarry_T = setup(name, seed=0)
    mask = np.arange(T)[:, None] < np.asarray(LENGTHS) if masked else None
    hs, carry_T, tape = forward(cell, params, xs, carry0, mask)
    grads, dxs, dcarry0 = backward(cell, params, tape, dhs, dcarry_T)
    ref = torch_forward_backward(
        name, [params], xs, [carry0], dhs, [dcarry_T], lengths=LENGTHS if masked else None
    )

    compare("hs", hs, ref.hs)
    for k in cell.carry_type._fields:
        compare(f"carry_T.{k}", getattr(carry_T, k), getattr(ref.carry_T[0], k))
        compare(f"dcarry0.{k}", getattr(dcarry0, k), getattr(ref.dcarry0[0], k))
    for k in params._fields:  # W_x ~ weight_ih.T, W_h ~ weight_hh.T, b ~ bias_ih, b_hn
        compare(f"grads.{k}", getattr(grads, k), getattr(ref.grads[0], k))
    compare("dxs", dxs, ref.dxs)
    # One bias stands for PyTorch's two: our db is also its bias_hh gradient (RNN, LSTM);
    # for GRU, bias_hh's r and z blocks match db and its n block is our b_hn.
    expected_bias_hh = grads.b
    if name == "gru":
        expected_bias_hh = np.concatenate([grads.b[: 2 * H], grads.b_hn])
    compare("bias_hh", expected_bias_hh, ref.bias_hh_grads[0])


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_parity_one_step(name):
    """step_forward and step_backward against torch.nn.RNNCell / LSTMCell / GRUCell."""
    cell, params, xs, carry0, _, dcarry_T = setup(name, seed=1)
    x = xs[:1]  # (1, B, D)
    new_carry, cache = cell.step_forward(params, cell.input_projection(params, x)[0], carry0)
    dcarry_prev, dxp, dhp = cell.step_backward(params, cache, dcarry_T)
    grads, dx = cell.weight_grads(params, x, carry0.h[None], dxp[None], dhp[None])

    ref_carry, ref_grads, ref_dx, ref_dprev = torch_step(name, params, x[0], carry0, dcarry_T)
    for k in cell.carry_type._fields:
        compare(f"new_carry.{k}", getattr(new_carry, k), getattr(ref_carry, k))
        compare(f"dcarry_prev.{k}", getattr(dcarry_prev, k), getattr(ref_dprev, k))
    for k in params._fields:
        compare(f"grads.{k}", getattr(grads, k), getattr(ref_grads, k))
    compare("dx", dx[0], ref_dx)


def test_parity_report():
    """The largest relative error against PyTorch, per cell (run with -s to see it)."""
    worst = {}
    for name, cell in CELLS.items():
        cell, params, xs, carry0, dhs, dcarry_T = setup(name, seed=2)
        hs, carry_T, tape = forward(cell, params, xs, carry0)
        grads, dxs, dcarry0 = backward(cell, params, tape, dhs, dcarry_T)
        ref = torch_forward_backward(name, [params], xs, [carry0], dhs, [dcarry_T])
        pairs = [
            (hs, ref.hs),
            (dxs, ref.dxs),
            *zip(carry_T, ref.carry_T[0], strict=True),
            *zip(dcarry0, ref.dcarry0[0], strict=True),
            *zip(grads, ref.grads[0], strict=True),
        ]
        worst[name] = max(compare(name, a, b) for a, b in pairs)
    print("max relative error vs PyTorch:", {k: f"{v:.1e}" for k, v in worst.items()})
