"""Shared set-up of the online estimators' tests: small models, batches, exact gradients.

Sizes all differ (T=5, B=3, D=4, H=6, O=2) so that a swapped axis fails loudly; the batch
has a random loss mask (some steps carry no loss), and everything runs in float64.
"""

import numpy as np

from bptt.engine.truncated import windows
from bptt.model import Model, ModelConfig
from bptt.online.compare import record_steps, run_estimator
from bptt.window import Batch, window_gradients

T, B, D, H, V = 5, 3, 4, 6, 2  # V: the readout's outputs (O)
CELLS = ["rnn", "relu", "lstm", "gru"]
LAYER = "layers.0"


def make(cell, *, loss="mse", seed=0, T=T, B=B, D=D, H=H, V=V, resets=False, scale=1.0):
    """(model, params, batch) of one recurrent layer with a readout at every step."""
    model = Model(ModelConfig(cell=cell, input_size=D, hidden_size=H, output_size=V))
    rng = np.random.default_rng(seed)
    params = model.init(rng, dtype=np.float64)
    params = {k: v * scale if k.startswith(LAYER) else v for k, v in params.items()}
    xs = rng.standard_normal((T, B, D))
    mse = loss == "mse"
    targets = rng.standard_normal((T, B, V)) if mse else rng.integers(0, V, size=(T, B))
    loss_mask = rng.random((T, B)) < 0.7
    loss_mask[-1] = True
    reset_mask = None
    if resets:
        reset_mask = np.zeros((T, B), dtype=bool)
        reset_mask[2, 1] = reset_mask[3, 0] = True
    return model, params, Batch(xs, targets, loss_mask, resets=reset_mask)


def exact(model, params, batch, loss="mse", carry0=None):
    """Full BPTT's gradient of the batch's mean loss, per parameter name."""
    carries0 = None if carry0 is None else (carry0,)
    window = windows(batch.inputs.shape[0], None)[0]
    return window_gradients(model, params, batch, window, carries0, loss=loss).grads


def summed(model, params, batch, estimator, loss="mse", seed=0, carry0=None):
    """The estimator's emissions over the batch, summed: a CellParams."""
    recorded = record_steps(model, params, batch, loss=loss, carry0=carry0)
    total, _, _ = run_estimator(model, params, recorded, estimator, np.random.default_rng(seed))
    return total


def assert_layer_close(total, grads, rtol=1e-10, atol=1e-13):
    """Every field of ``total`` (CellParams) equals grads["layers.0.<field>"]."""
    for field, value in zip(total._fields, total, strict=True):
        np.testing.assert_allclose(
            value, grads[f"{LAYER}.{field}"], rtol=rtol, atol=atol, err_msg=field
        )


def flat_layer(grads):
    """The layer's gradient as one vector, in field order."""
    return np.concatenate([np.ravel(v) for k, v in grads.items() if k.startswith(LAYER)])


def draws(model, params, batch, estimator, n, loss="mse"):
    """(n, P): the summed estimates of n independent draws on one recorded forward pass."""
    recorded = record_steps(model, params, batch, loss=loss)
    rows = []
    for s in range(n):
        total, _, _ = run_estimator(model, params, recorded, estimator, np.random.default_rng(s))
        rows.append(np.concatenate([np.ravel(v) for v in total]))
    return np.stack(rows)
