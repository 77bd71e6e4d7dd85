"""BPTT, truncated BPTT and ARTBP in the step interface against the engine's windows."""

import numpy as np
import pytest
from online_reference import CELLS, assert_layer_close, draws, exact, flat_layer, make, summed

from bptt.engine.truncated import truncation, windows
from bptt.errors import BpttError
from bptt.online import ARTBP, TruncatedBPTT, full_bptt, make_estimator
from bptt.online.base import flat
from bptt.window import loss_positions, window_gradients


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_is_the_exact_gradient(cell):
    model, params, batch = make(cell, resets=True)
    assert_layer_close(summed(model, params, batch, full_bptt()), exact(model, params, batch))


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_equals_the_engines_windows(cell, k):
    model, params, batch = make(cell, seed=1)
    total = int(loss_positions(batch).sum())
    expected, carries = None, None
    for window in windows(batch.inputs.shape[0], truncation(k)):
        result = window_gradients(model, params, batch, window, carries, loss="mse")
        carries = result.carries_next
        if result.grads is not None:  # the window's mean loss, weighted to the batch's mean
            part = {n: g * result.count / total for n, g in result.grads.items()}
            expected = part if expected is None else {n: expected[n] + part[n] for n in part}
    assert_layer_close(summed(model, params, batch, TruncatedBPTT(k)), expected)


def test_artbp_without_cuts_is_bptt():
    model, params, batch = make("lstm")
    total = summed(model, params, batch, ARTBP(1e12))  # cut probability 1e-12
    np.testing.assert_allclose(flat(total), flat_layer(exact(model, params, batch)), rtol=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_artbp_is_unbiased(cell):
    # The mean of n draws is within 4 standard errors of the exact gradient, a bound that
    # shrinks as 1/sqrt(n); truncated BPTT of the same mean length is far outside it.
    model, params, batch = make(cell, scale=2.0)
    g = flat_layer(exact(model, params, batch))
    runs = draws(model, params, batch, ARTBP(2), 600)
    variance = ((runs - runs.mean(axis=0)) ** 2).sum(axis=1).mean()
    for n in (150, 600):
        error = np.linalg.norm(runs[:n].mean(axis=0) - g)
        assert error <= 4.0 * np.sqrt(variance / n)
    biased = np.linalg.norm(flat(summed(model, params, batch, TruncatedBPTT(2))) - g)
    assert biased > 4.0 * np.sqrt(variance / 600)


def test_names_and_bad_settings():
    assert [make_estimator(n).name for n in ("bptt", "tbptt:7", "artbp:12")] == [
        "bptt",
        "tbptt:7",
        "artbp:12",
    ]
    with pytest.raises(BpttError, match="`k` of truncated BPTT must be an integer >= 1"):
        TruncatedBPTT(0)
    with pytest.raises(BpttError, match="`mean_length` of ARTBP must be a number > 1"):
        ARTBP(1)
    with pytest.raises(BpttError, match=r"Estimator 'tbptt:x': K must be an integer >= 1"):
        make_estimator("tbptt:x")
    with pytest.raises(BpttError, match="Unknown estimator 'kfrtrl'; expected one of bptt"):
        make_estimator("kfrtrl")
