"""RTRL summed over a sequence is full BPTT's gradient, for every cell, loss and carry."""

import numpy as np
import pytest
from online_reference import CELLS, assert_layer_close, exact, make, summed

from bptt.errors import BpttError
from bptt.online import RTRL, Sizes
from bptt.online.stepper import cell_params


@pytest.mark.parametrize("loss", ["mse", "xent"])
@pytest.mark.parametrize("cell", CELLS)
def test_rtrl_equals_full_bptt(cell, loss):
    model, params, batch = make(cell, loss=loss)
    assert_layer_close(
        summed(model, params, batch, RTRL(), loss), exact(model, params, batch, loss)
    )


@pytest.mark.parametrize("cell", CELLS)
def test_rtrl_equals_full_bptt_across_resets_and_from_a_given_carry(cell):
    model, params, batch = make(cell, resets=True, seed=3)
    rng = np.random.default_rng(5)
    carry0 = model.cell.carry_type(
        *(rng.standard_normal((3, 6)) for _ in model.cell.carry_type._fields)
    )
    total = summed(model, params, batch, RTRL(), carry0=carry0)
    assert_layer_close(total, exact(model, params, batch, carry0=carry0))


def test_rtrl_refuses_an_influence_matrix_above_the_limit():
    model, params, _ = make("lstm")
    p = cell_params(model, params)
    with pytest.raises(
        BpttError, match=r"RTRL keeps d\(carry\)/d\(theta\).*N=12 x P=264.*max_bytes"
    ):
        RTRL(max_bytes=10_000).init(model.cell, p, Sizes(3, 4, 6, 2), np.random.default_rng(0))
