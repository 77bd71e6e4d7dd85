"""Truncation bias: an explicit per-window computation, central differences, the adding and
copy tasks, and bad sweeps."""

import numpy as np
import pytest
from diagnostics_reference import explicit_truncated_gradient

from bptt.diagnostics import default_sweep, truncated_gradient, truncation_bias
from bptt.losses import softmax_cross_entropy
from bptt.model import Model, ModelConfig
from bptt.train.tasks import sequence_task
from bptt.window import Batch

T, B, V, H = 11, 3, 6, 5


def _token_setup(cell="lstm", seed=0, masked=True):
    rng = np.random.default_rng(seed)
    model = Model(
        ModelConfig(
            cell=cell, vocab_size=V, embed_size=4, hidden_size=H, num_layers=2, output_size=V
        )
    )
    params = model.init(rng, dtype=np.float64)
    ids = rng.integers(0, V, (T + 1, B))
    mask = np.arange(T)[:, None] < np.array([T, 7, 9])[None, :] if masked else None
    loss_mask = rng.random((T, B)) < 0.6
    return model, params, Batch(ids[:-1], ids[1:], loss_mask, mask)


@pytest.mark.parametrize("k", [1, 3, 4, 6, T])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_truncated_gradient_equals_explicit_windows(cell, k):
    model, params, batch = _token_setup(cell, seed=k)
    ours = truncated_gradient(model, params, batch, k, loss="xent")
    reference = explicit_truncated_gradient(model, params, batch, k, "xent")
    for name in params:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-10, atol=1e-14)


def test_truncated_gradient_matches_finite_differences_with_fixed_window_states():
    """g_k is the gradient of (1/N) sum_w N_w L_w(theta; s_w) with the window-start states s_w
    held at their values: perturb the parameters, not the states."""
    model, params, batch = _token_setup("lstm", seed=5, masked=False)
    k = 4
    starts = list(range(0, T, k))
    states = {s: model.forward(params, batch.inputs[:s])[1] if s else None for s in starts}
    N = int(batch.loss_mask.sum())

    def objective(p):
        total = 0.0
        for s in starts:
            part = batch.slice(s, min(s + k, T))
            if not part.loss_mask.any():
                continue
            out = model.forward(p, part.inputs, carries0=states[s])[0]
            value = softmax_cross_entropy(out, part.targets, part.loss_mask)[0]
            total += value * part.loss_mask.sum()
        return total / N

    direction = {n: np.random.default_rng(9).standard_normal(v.shape) for n, v in params.items()}
    eps = 1e-6
    up = objective({n: v + eps * direction[n] for n, v in params.items()})
    down = objective({n: v - eps * direction[n] for n, v in params.items()})
    g = truncated_gradient(model, params, batch, k, loss="xent")
    analytic = sum(float(np.sum(g[n] * direction[n])) for n in params)
    assert analytic == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_full_window_has_cosine_one():
    model, params, batch = _token_setup("gru", seed=3)
    bias = truncation_bias(model, params, batch, loss="xent", sweep=[2, 5])
    assert bias.ks.tolist() == [2, 5, T]  # T, the reference, is always added
    assert abs(bias.cosine[-1] - 1.0) < 1e-9
    assert abs(bias.norm_ratio[-1] - 1.0) < 1e-9
    for name in params:
        assert abs(bias.param_cosine[name][-1] - 1.0) < 1e-9
    np.testing.assert_allclose(bias.param_cosine["readout.W"], 1.0, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_adding_task_bias_curve_is_non_decreasing(cell):
    task = sequence_task("adding", 100)
    batch = task.draw(np.random.default_rng(0), 16)
    model = Model(ModelConfig(cell=cell, hidden_size=16, **task.model_io()))
    params = model.init(np.random.default_rng(1), dtype=np.float64)
    bias = truncation_bias(model, params, batch, loss=task.loss)
    assert bias.ks[0] == 1 and bias.ks[-1] == 100
    assert abs(bias.cosine[-1] - 1.0) < 1e-9
    assert np.all(np.diff(bias.cosine) >= -0.02), bias.cosine
    after = bias.ks >= bias.recommended_k
    assert np.all(bias.cosine[after] >= bias.threshold)
    if bias.recommended_k > 1:
        assert bias.cosine[~after][-1] < bias.threshold


def _copy_plateau_model(rng, memory_units=8):
    """An LSTM at the copy task's memoryless plateau (Arjovsky et al. 2016 report training
    stalling there): it predicts blanks until a latch unit sees the delimiter and then guesses
    among the symbols, while its other units write the symbols into cells that keep them
    (forget gate s(10)) but that the readout has not learned to read (weights 0.3 N(0, 1)).
    Its gradient is then the long-range recall signal, 60 steps from symbol to recall."""
    n_in, n_out = 10, 9
    H = 1 + memory_units
    model = Model(
        ModelConfig(cell="lstm", vocab_size=n_in, embed_size=n_in, hidden_size=H, output_size=n_out)
    )
    params = model.init(rng, dtype=np.float64)
    W_x, W_h, b = np.zeros((n_in, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    i, f, g, o = (slice(j * H, (j + 1) * H) for j in range(4))
    b[f], b[o] = 10.0, 10.0  # keep every cell, show every cell
    b[i] = -10.0  # write nothing ...
    W_x[9, i.start] = 20.0  # ... except the delimiter (id 9) into the latch, unit 0
    b[g.start] = 10.0
    W_x[1:9, i.start + 1 : i.stop] = 20.0  # and any symbol (ids 1..8) into the memory units
    W_x[1:9, g.start + 1 : g.stop] = rng.normal(0.0, 0.5, (8, memory_units))
    readout_W = np.zeros((H, n_out))
    readout_W[0, 0] = -20.0  # blank until the latch is set
    readout_W[1:] = 0.3 * rng.standard_normal((memory_units, n_out))
    readout_b = np.zeros(n_out)
    readout_b[0] = 8.0
    params |= {
        "embedding.W": np.eye(n_in),
        "layers.0.W_x": W_x,
        "layers.0.W_h": W_h,
        "layers.0.b": b,
        "readout.W": readout_W,
        "readout.b": readout_b,
    }
    return model, params


def test_copy_task_recommends_a_window_spanning_the_dependency():
    task = sequence_task("copy", 50)  # sequences of T + 20 = 70 steps
    span = 50 + 10  # symbol i at step i is recalled at step 60 + i
    batch = task.draw(np.random.default_rng(0), 32)
    model, params = _copy_plateau_model(np.random.default_rng(0))
    bias = truncation_bias(model, params, batch, loss=task.loss)
    assert bias.recommended_k >= span
    # No window shorter than the span sees the recall signal: they all share the readout's
    # gradient (the same for every k) and little else, so their cosines sit flat, low.
    short = bias.cosine[bias.ks < span]
    assert short.max() < 0.6 and np.ptp(short) < 0.05, short


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ([5, 12], r"`sweep` holds 12, longer than the sequence \(T=11 steps\)"),
        ([0], "`sweep` holds 0; window lengths must be integers >= 1"),
        ([2.5], "`sweep` holds 2.5"),
        ([True], "`sweep` holds True"),
        ([], "`sweep` is empty"),
    ],
)
def test_bad_sweep_values_raise(sweep, message):
    model, params, batch = _token_setup()
    with pytest.raises(ValueError, match=message):
        truncation_bias(model, params, batch, loss="xent", sweep=sweep)


def test_bad_window_and_threshold_raise():
    model, params, batch = _token_setup()
    with pytest.raises(ValueError, match="`k` is 12, longer than the sequence"):
        truncated_gradient(model, params, batch, 12, loss="xent")
    with pytest.raises(ValueError, match="`threshold` must be in"):
        truncation_bias(model, params, batch, loss="xent", threshold=0.0)


@pytest.mark.parametrize("T_", [1, 2, 10, 70, 100, 101, 1000])
def test_default_sweep_lengthens_the_last_window(T_):
    ks = default_sweep(T_)
    assert ks[0] == 1 and ks[-1] == T_ and ks == sorted(set(ks))
    last = [(T_ - 1) % k + 1 for k in ks]
    assert last == sorted(set(last))  # every longer window leaves a longer last window
    assert len(ks) <= 24
