"""Model: stacked, bidirectional, masked, embedded and read-out gradients by finite differences."""

import numpy as np
import pytest

from bptt.losses import mse, softmax_cross_entropy
from bptt.model import Model, ModelConfig, reverse_index
from bptt.testing import check_model_gradients

T, B, D, H = 5, 3, 4, 6
CELLS = ["rnn", "relu", "lstm", "gru"]
LENGTHS = np.array([5, 2, 4])


def _mask():
    return np.arange(T)[:, None] < LENGTHS[None, :]


def _check_model(config, *, lengths=None, train=False):
    errors = check_model_gradients(config, seq_len=T, batch_size=B, lengths=lengths, train=train)
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])
    n_carries = config.num_layers * config.directions
    assert len(errors) >= len(Model(config).init(np.random.default_rng(0))) + n_carries


def _float_inputs(seed=1):
    return np.random.default_rng(seed).standard_normal((T, B, D))


@pytest.mark.parametrize("cell", CELLS)
def test_stacked_three_layers(cell):
    _check_model(ModelConfig(cell=cell, input_size=D, hidden_size=H, num_layers=3))


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional(cell):
    cfg = ModelConfig(cell=cell, input_size=D, hidden_size=H, bidirectional=True)
    _check_model(cfg)


@pytest.mark.parametrize("cell", CELLS)
def test_masked_stacked_bidirectional_with_readout(cell):
    cfg = ModelConfig(
        cell=cell, input_size=D, hidden_size=H, num_layers=2, bidirectional=True, output_size=2
    )
    _check_model(cfg, lengths=LENGTHS)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_step_readout_masked(bidirectional):
    cfg = ModelConfig(
        cell="lstm",
        input_size=D,
        hidden_size=H,
        bidirectional=bidirectional,
        output_size=3,
        readout="last",
    )
    _check_model(cfg, lengths=LENGTHS)


def test_embedding_and_dropout_in_training():
    cfg = ModelConfig(
        cell="gru",
        vocab_size=7,
        embed_size=5,
        hidden_size=H,
        num_layers=2,
        dropout=0.3,
        output_size=7,
    )
    _check_model(cfg, train=True)


def test_irnn_init_is_identity():
    model = Model(ModelConfig(cell="irnn", input_size=D, hidden_size=H))
    params = model.init(np.random.default_rng(0))
    np.testing.assert_array_equal(params["layers.0.W_h"], np.eye(H, dtype=np.float32))
    assert params["layers.0.W_x"].dtype == np.float32


def test_parameter_names_are_ordered_and_complete():
    cfg = ModelConfig(
        cell="gru", vocab_size=9, hidden_size=H, num_layers=2, bidirectional=True, output_size=9
    )
    names = list(Model(cfg).init(np.random.default_rng(0)))
    assert names[0] == "embedding.W" and names[-2:] == ["readout.W", "readout.b"]
    assert names[1:5] == ["layers.0.W_x", "layers.0.W_h", "layers.0.b", "layers.0.b_hn"]
    assert "layers.1.reverse.b_hn" in names


def test_reverse_index_reverses_valid_steps_only():
    idx = reverse_index(_mask(), T, B)
    np.testing.assert_array_equal(idx[:, 1], [1, 0, 2, 3, 4])
    np.testing.assert_array_equal(idx[:, 0], [4, 3, 2, 1, 0])


@pytest.mark.parametrize("readout", ["all", "last"])
def test_padded_batch_equals_each_sequence_alone(readout):
    rng = np.random.default_rng(3)
    cfg = ModelConfig(
        cell="lstm",
        input_size=D,
        hidden_size=H,
        num_layers=2,
        bidirectional=True,
        output_size=2,
        readout=readout,
    )
    model = Model(cfg)
    params = model.init(rng, dtype=np.float64)
    xs = rng.standard_normal((T, B, D))
    mask = _mask()
    out, _, _ = model.forward(params, xs, mask=mask)
    for b, length in enumerate(LENGTHS):
        alone, _, _ = model.forward(params, xs[:length, b : b + 1])
        if readout == "all":
            np.testing.assert_allclose(out[:length, b], alone[:, 0], rtol=1e-12, atol=1e-14)
        else:
            np.testing.assert_allclose(out[b], alone[0], rtol=1e-12, atol=1e-14)


def test_float32_stays_float32():
    model = Model(ModelConfig(cell="lstm", vocab_size=5, hidden_size=H, output_size=5))
    params = model.init(np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 5, (T, B))
    logits, carries, cache = model.forward(params, ids)
    assert logits.dtype == np.float32 and carries[0].c.dtype == np.float32
    _, dlogits = softmax_cross_entropy(logits, ids)
    grads = model.backward(params, cache, dlogits)[0]
    assert all(g.dtype == np.float32 for g in grads.values())


def test_losses_reject_bad_targets():
    with pytest.raises(ValueError, match=r"class ids in \[0, 9\] but there are V=4"):
        softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 9]))
    with pytest.raises(ValueError, match="shape"):
        mse(np.zeros((2, 1)), np.zeros((3, 1)))


@pytest.mark.parametrize(
    ("inputs", "error", "match"),
    [
        (np.full((T, B), 9), ValueError, r"token ids in \[9, 9\] but the vocabulary has V=7"),
        (np.full((T, B), -1), ValueError, "valid ids 0..6"),
        (np.zeros((T, B)), TypeError, "must be integer token ids"),
        (np.zeros((T,), dtype=int), ValueError, r"shape \(T, B\)"),
        (np.zeros((0, B), dtype=int), ValueError, r"T, B >= 1"),
    ],
)
def test_bad_token_ids(inputs, error, match):
    model = Model(ModelConfig(cell="lstm", vocab_size=7, hidden_size=H))
    params = model.init(np.random.default_rng(0))
    with pytest.raises(error, match=match):
        model.forward(params, inputs)


def test_bad_config():
    with pytest.raises(ValueError, match="Unknown cell 'lstn'"):
        ModelConfig(cell="lstn", input_size=3)
    with pytest.raises(ValueError, match="Set `input_size`"):
        ModelConfig(cell="lstm")
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
        ModelConfig(input_size=3, dropout=1.0)


def test_wrong_number_of_carries():
    model = Model(ModelConfig(cell="gru", input_size=D, hidden_size=H, num_layers=2))
    params = model.init(np.random.default_rng(0))
    with pytest.raises(
        ValueError, match=r"`carries0` must be a tuple of 2 carries \(num_layers=2 x directions=1\)"
    ):
        model.forward(params, _float_inputs(), carries0=(None,))


@pytest.mark.parametrize("vocab", [None, 7])
def test_without_input_grad_the_parameter_gradients_are_the_same(vocab):
    """input_grad=False skips dL/dxs of the first layer (dxs None); token ids still get
    their embedding gradient, and every parameter gradient is unchanged."""
    inputs = dict(vocab_size=vocab) if vocab else dict(input_size=D)
    config = ModelConfig(
        cell="lstm", hidden_size=H, num_layers=2, bidirectional=True, output_size=2, **inputs
    )
    model = Model(config)
    rng = np.random.default_rng(3)
    params = model.init(rng, dtype=np.float64)
    xs = rng.integers(0, vocab, (T, B)) if vocab else _float_inputs()
    _, _, cache = model.forward(params, xs, mask=_mask())
    g = rng.standard_normal((T, B, 2))
    want, dxs, carries_want = model.backward(params, cache, g)
    got, none, carries_got = model.backward(params, cache, g, input_grad=False)
    assert none is None and (dxs is None) == (vocab is not None)
    for name in params:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-13, atol=1e-14)
    for a, b in zip(carries_got, carries_want, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("memory_policy", [None, "sqrt"], ids=["full", "checkpointed"])
def test_values_that_overflow_inside_the_model_are_one_skipped_update(memory_policy):
    """One rule on both paths: the model checks its inputs once; a value that becomes
    non-finite inside it propagates, and train_step skips the update (counted), instead of
    an inner layer refusing it as bad input ("carry0.h contains NaN or Inf")."""
    from bptt.engine.truncated import windows
    from bptt.optim import sgd
    from bptt.train.state import init_state, train_step
    from bptt.window import Batch

    model = Model(
        ModelConfig(cell="relu", input_size=2, hidden_size=4, num_layers=2, output_size=1)
    )
    optimizer = sgd(0.1)
    state = init_state(model, optimizer, seed=0)
    params = dict(state.params)
    params["layers.0.W_h"] = np.full_like(params["layers.0.W_h"], 1e10)  # diverges in 4 steps
    state = state._replace(params=params)
    T = 16
    rng = np.random.default_rng(0)
    batch = Batch(np.abs(rng.standard_normal((T, 3, 2))) + 1, np.zeros((T, 3, 1)))
    with np.errstate(over="ignore", invalid="ignore"):  # NumPy's default would warn
        outputs, _, _ = model.forward(params, batch.inputs, memory_policy=memory_policy)
        assert not np.isfinite(outputs).all()
        (window,) = windows(T, None)
        new, metrics = train_step(
            state,
            batch,
            window,
            model=model,
            optimizer=optimizer,
            loss="mse",
            memory_policy=memory_policy,
        )
    assert metrics.nonfinite and not metrics.updated
    assert new.step == 0 and new.nonfinite_total == 1
    for name in params:
        np.testing.assert_array_equal(new.params[name], params[name])


class TestPythonMistakes:
    """Each mistake a Python caller can make gets a message as clear as the shape checks'."""

    def setup_method(self):
        self.model = Model(ModelConfig(cell="lstm", input_size=3, hidden_size=4, output_size=2))
        self.params = self.model.init(np.random.default_rng(0), dtype=np.float64)
        self.xs = np.random.default_rng(1).standard_normal((5, 2, 3))

    def test_a_plain_tuple_as_carries0(self):
        h = np.zeros((2, 4))
        with pytest.raises(TypeError, match=r"`carries0\[0\]` is tuple but the lstm cell"):
            self.model.forward(self.params, self.xs, carries0=((h, h),))

    def test_a_missing_parameter(self):
        params = {k: v for k, v in self.params.items() if k != "readout.W"}
        with pytest.raises(ValueError, match=r"`params` lack \['readout.W'\]"):
            self.model.forward(params, self.xs)

    def test_integer_parameters(self):
        params = {**self.params, "layers.0.W_h": np.ones((4, 16), dtype=np.int64)}
        with pytest.raises(TypeError, match="`params` must all be float32 or all float64"):
            self.model.forward(params, self.xs)

    def test_nan_parameters(self):
        W = self.params["layers.0.W_h"].copy()
        W[1, 2] = np.nan
        with pytest.raises(ValueError, match=r"`params\['layers.0.W_h'\]` contains NaN or Inf"):
            self.model.forward({**self.params, "layers.0.W_h": W}, self.xs)

    def test_init_with_a_seed_instead_of_a_generator(self):
        with pytest.raises(TypeError, match=r"np\.random\.default_rng"):
            self.model.init(0)

    def test_a_wrongly_shaped_gradient_in_backward(self):
        _, _, cache = self.model.forward(self.params, self.xs)
        with pytest.raises(ValueError, match=r"`doutputs` has shape \(5, 2, 3\).*\(5, 2, 2\)"):
            self.model.backward(self.params, cache, np.ones((5, 2, 3)))

    @pytest.mark.parametrize(
        ("field", "value", "match"),
        [
            ("forget_bias", float("nan"), "`forget_bias` must be a finite number"),
            ("input_size", True, "`input_size` must be a positive integer or None, got True"),
            ("hidden_size", 2.0, "`hidden_size` must be a positive integer"),
        ],
    )
    def test_config_values(self, field, value, match):
        config = {"cell": "lstm", "input_size": 3, "hidden_size": 4, field: value}
        with pytest.raises(ValueError, match=match):
            ModelConfig(**config)
