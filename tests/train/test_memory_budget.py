"""Checkpointed BPTT through the model and the trainer: same gradients, budgets parsed."""

import io

import numpy as np
import pytest

from bptt.model import Model, ModelConfig
from bptt.train.config import parse_memory_budget
from bptt.train.factories import memory_policy
from bptt.train.trainer import Trainer


@pytest.mark.parametrize("readout", ["all", "last"])
@pytest.mark.parametrize("policy", ["sqrt", 1, 3, [2, 5]])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_model_gradients_equal_full_bptt(cell, policy, readout):
    """A last-step readout keeps no outputs of the top layer (checkpointed), same gradients."""
    rng = np.random.default_rng(0)
    model = Model(
        ModelConfig(
            cell=cell,
            input_size=3,
            hidden_size=5,
            num_layers=2,
            bidirectional=True,
            output_size=2,
            readout=readout,
        )
    )
    params = model.init(rng, dtype=np.float64)
    xs = rng.standard_normal((9, 4, 3))
    mask = np.arange(9)[:, None] < np.array([9, 4, 7, 1])[None, :]
    g = rng.standard_normal((9, 4, 2) if readout == "all" else (4, 2))
    out, _, cache = model.forward(params, xs, mask=mask)
    full, dxs, _ = model.backward(params, cache, g)
    out_c, _, cache_c = model.forward(params, xs, mask=mask, memory_policy=policy)
    np.testing.assert_allclose(out_c, out, rtol=1e-12, atol=1e-15)
    grads, dxs_c, _ = model.backward(params, cache_c, g)
    for name in params:
        np.testing.assert_allclose(grads[name], full[name], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dxs_c, dxs, rtol=1e-10, atol=1e-13)


def test_budgets_are_parsed():
    assert parse_memory_budget("") is None
    assert parse_memory_budget("sqrt") == ("sqrt", 0)
    assert parse_memory_budget("50") == ("states", 50)
    assert parse_memory_budget("64MiB") == ("bytes", 64 * 2**20)
    assert parse_memory_budget("2 GB") == ("bytes", 2e9)
    for bad in ("-3", "0", "lots", "1.5", "10 parsecs"):
        with pytest.raises(ValueError, match="memory_budget"):
            parse_memory_budget(bad)


def test_trainer_with_a_budget_in_bytes(make_config):
    config = make_config(task="adding", seq_len=30, bptt="full", memory_budget="100KB")
    trainer = Trainer(config, stream=io.StringIO())
    # (2G + 3) * B * H * 4 = 11 * 4 * 16 * 4 bytes per state for the LSTM: 35 states.
    assert memory_policy(config, trainer.model) == 100_000 // (11 * 4 * 16 * 4)
    trainer.fit()
    assert trainer.state.step == config.steps
    tiny = make_config(name="tiny", memory_budget="100B")
    with pytest.raises(ValueError, match="the minimum is 1 slot"):
        Trainer(tiny, stream=io.StringIO())
