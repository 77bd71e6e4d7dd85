"""SnAp-n: RTRL where its pattern reaches every unit, and the pattern itself."""

import numpy as np
import pytest
from online_reference import CELLS, LAYER, assert_layer_close, exact, make, summed

from bptt.errors import BpttError
from bptt.online import Sizes, SnAp, make_estimator
from bptt.online.snap import pattern, reach
from bptt.online.stepper import cell_params


@pytest.mark.parametrize("cell", CELLS)
def test_snap2_of_a_dense_network_is_rtrl(cell):
    model, params, batch = make(cell, resets=True)
    assert_layer_close(summed(model, params, batch, SnAp(2)), exact(model, params, batch))


@pytest.mark.parametrize("cell", CELLS)
def test_snap1_is_exact_when_units_do_not_talk(cell):
    # Every gate block of W_h diagonal: J_t is diagonal per unit, SnAp-1's pattern is complete.
    model, params, batch = make(cell)
    H = params[f"{LAYER}.W_h"].shape[0]
    G = params[f"{LAYER}.W_h"].shape[1] // H
    diagonal = np.tile(np.eye(H, dtype=bool), (1, G))
    params = params | {f"{LAYER}.W_h": params[f"{LAYER}.W_h"] * diagonal}
    assert_layer_close(summed(model, params, batch, SnAp(1)), exact(model, params, batch))
    dense = make(cell)[1]
    approx = summed(model, dense, batch, SnAp(1))
    assert not np.allclose(approx.W_h, exact(model, dense, batch)[f"{LAYER}.W_h"])


def chain(H, G=1):
    """W_h's pattern for a chain: unit j feeds unit j + 1 only (in every gate block)."""
    return np.tile(np.eye(H, k=1, dtype=bool), (1, G))


def test_reach_follows_the_recurrent_pattern():
    mask = chain(5)
    assert reach(mask, 1).tolist() == np.eye(5, dtype=bool).tolist()
    two = reach(mask, 2)
    assert [np.flatnonzero(row).tolist() for row in two] == [[0, 1], [1, 2], [2, 3], [3, 4], [4]]
    index, valid, own = pattern(mask, 2, fields=2)  # (h, c): 2 fields x 2 units kept
    assert index[4].tolist() == [4, 4, 9, 9] and valid[4].tolist() == [True, False, True, False]
    assert own[:, 1].tolist() == [0, 2] and index[1].tolist() == [1, 2, 6, 7]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_snap_n_on_a_sparse_network_reaches_rtrl(cell):
    model, params, batch = make(cell)
    W_h = params[f"{LAYER}.W_h"]
    H = W_h.shape[0]
    mask = chain(H, W_h.shape[1] // H)
    params = params | {f"{LAYER}.W_h": W_h * mask}
    g = exact(model, params, batch)
    assert_layer_close(summed(model, params, batch, SnAp(H, mask=mask)), g)  # reaches all
    two = summed(model, params, batch, SnAp(2, mask=mask)).W_h
    assert not np.allclose(two, g[f"{LAYER}.W_h"])  # two steps do not


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_snap2_is_exact_where_influence_travels_one_unit_at_most(cell):
    # Unit 0 feeds every unit, the others only themselves: what theta reaches in two steps is
    # all it ever reaches, so SnAp-2's padded, uneven pattern (H units for unit 0's
    # parameters, one for the others) is complete.
    model, params, batch = make(cell, resets=True)
    W_h = params[f"{LAYER}.W_h"]
    H = W_h.shape[0]
    star = np.eye(H, dtype=bool)
    star[0] = True
    mask = np.tile(star, (1, W_h.shape[1] // H))
    params = params | {f"{LAYER}.W_h": W_h * mask}
    assert_layer_close(summed(model, params, batch, SnAp(2)), exact(model, params, batch))


def test_settings_and_limits():
    model, params, _ = make("rnn")
    p = cell_params(model, params)
    sizes = Sizes(3, 4, 6, 2)
    rng = np.random.default_rng(0)
    assert make_estimator("snap2").name == "snap2"
    with pytest.raises(BpttError, match="`n` of SnAp-n must be an integer >= 1"):
        SnAp(0)
    with pytest.raises(BpttError, match=r"`mask` has shape \(2, 2\) but W_h has \(6, 6\)"):
        SnAp(1, mask=np.ones((2, 2), dtype=bool)).init(model.cell, p, sizes, rng)
    with pytest.raises(BpttError, match="SnAp-2 keeps 6 carry entries per parameter"):
        SnAp(2, max_bytes=1000).init(model.cell, p, sizes, rng)
    state = SnAp(1).init(model.cell, p, sizes, rng)
    P = sum(v.size for v in p)
    assert sum(m.nbytes for m in state.influence.values()) == 3 * 1 * P * 8
