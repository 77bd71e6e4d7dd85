"""One BPTT(k1, k2) window: equivalences with full BPTT, a brute-force reference and PyTorch."""

import numpy as np
import pytest

from bptt.engine.truncated import Window, truncation, windows
from bptt.model import Model, ModelConfig
from bptt.window import Batch, window_gradients

T, B, V, H = 13, 3, 6, 5


def _setup(cell="lstm", seed=0):
    rng = np.random.default_rng(seed)
    model = Model(
        ModelConfig(
            cell=cell, vocab_size=V, embed_size=4, hidden_size=H, num_layers=2, output_size=V
        )
    )
    params = model.init(rng, dtype=np.float64)
    ids = rng.integers(0, V, (T + 1, B))
    return model, params, Batch(ids[:-1], ids[1:])


def _tbptt(model, params, batch, k1, k2):
    """Per-window gradients of BPTT(k1, k2) with the parameters held fixed."""
    results, carries = [], None
    for w in windows(T, truncation(k1, k2)):
        r = window_gradients(model, params, batch, w, carries, loss="xent")
        results.append(r)
        carries = r.carries_next
    return results


def _brute_force(model, params, batch, k1, k2):
    """Each window built explicitly: the state at its start from a plain forward of the prefix,
    then one forward and backward over the window alone, with the loss on its new steps."""
    from bptt.losses import softmax_cross_entropy

    grads = []
    for w in windows(T, truncation(k1, k2)):
        carries = None
        if w.start > 0:
            carries = model.forward(params, batch.inputs[: w.start])[1]
        out, _, cache = model.forward(params, batch.inputs[w.start : w.stop], carries0=carries)
        loss_mask = np.zeros(out.shape[:2], dtype=bool)
        loss_mask[w.new_start - w.start :] = True
        _, dout = softmax_cross_entropy(out, batch.targets[w.start : w.stop], loss_mask)
        grads.append(model.backward(params, cache, dout)[0])
    return grads


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_k1_equals_k2_at_least_T_is_full_bptt(cell):
    model, params, batch = _setup(cell)
    from bptt.losses import softmax_cross_entropy

    out, _, cache = model.forward(params, batch.inputs)
    _, dout = softmax_cross_entropy(out, batch.targets)
    full = model.backward(params, cache, dout)[0]
    for k in (T, T + 7):
        (result,) = _tbptt(model, params, batch, k, k)
        for name in params:
            np.testing.assert_allclose(result.grads[name], full[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("k1", "k2"), [(4, 4), (3, 7), (2, 5), (1, 4), (5, 13)])
def test_overlapping_windows_equal_brute_force(k1, k2):
    model, params, batch = _setup("lstm", seed=k1 + k2)
    ours = _tbptt(model, params, batch, k1, k2)
    reference = _brute_force(model, params, batch, k1, k2)
    assert len(ours) == len(reference) == -(-T // k1)
    for r, g in zip(ours, reference, strict=True):
        for name in params:
            np.testing.assert_allclose(r.grads[name], g[name], rtol=1e-11, atol=1e-14)


def test_no_gradient_crosses_a_cut():
    """Changing inputs before a window start, with the carried state held fixed, changes
    nothing; while full BPTT over the same loss does depend on those inputs' path."""
    model, params, batch = _setup("gru", seed=3)
    k = 4
    results = _tbptt(model, params, batch, k, k)
    w = windows(T, truncation(k))[2]
    carries = results[1].carries_next
    changed = Batch(batch.inputs.copy(), batch.targets)
    changed.inputs[: w.start] = (changed.inputs[: w.start] + 1) % V
    again = window_gradients(model, params, changed, w, carries, loss="xent")
    for name in params:
        np.testing.assert_array_equal(again.grads[name], results[2].grads[name])
    # Full BPTT of the same window loss from step 0 differs: the cut removed a real path.
    full = _brute_force(model, params, batch, T, T)  # one window, loss on all steps
    assert not np.allclose(full[0]["layers.0.W_h"], results[2].grads["layers.0.W_h"])


def test_matches_pytorch_detach_recipe():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference")
    from bptt.interop import to_torch_state_dict

    rng = np.random.default_rng(5)
    D = 4
    model = Model(ModelConfig(cell="lstm", input_size=D, hidden_size=H, output_size=2))
    params = model.init(rng, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    ys = rng.standard_normal((T, B, 2))
    k = 5
    lstm = torch.nn.LSTM(D, H).double()
    lstm.load_state_dict(
        {k_: torch.from_numpy(v) for k_, v in to_torch_state_dict(params, "lstm").items()}
    )
    W = torch.tensor(params["readout.W"], requires_grad=True)
    b = torch.tensor(params["readout.b"], requires_grad=True)
    state = None
    carries = None
    for start in range(0, T, k):
        stop = min(start + k, T)
        lstm.zero_grad()
        W.grad = b.grad = None
        out, state = lstm(torch.tensor(xs[start:stop]), state)
        loss = torch.nn.functional.mse_loss(out @ W + b, torch.tensor(ys[start:stop]))
        loss.backward()
        state = tuple(s.detach() for s in state)  # the usual hand-written cut
        w = Window(start, start, stop, stop)
        r = window_gradients(model, params, Batch(xs, ys), w, carries, loss="mse")
        carries = r.carries_next
        assert abs(r.loss - loss.item()) < 1e-12
        np.testing.assert_allclose(
            r.grads["layers.0.W_h"], lstm.weight_hh_l0.grad.numpy().T, rtol=1e-10, atol=1e-14
        )
        np.testing.assert_allclose(r.grads["readout.W"], W.grad.numpy(), rtol=1e-10, atol=1e-14)
