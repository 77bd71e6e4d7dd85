"""softmax_nll: the per-position loss of evaluation, against a plain float64 reference."""

import numpy as np
import pytest

from bptt.losses import softmax_cross_entropy, softmax_nll


def test_equals_minus_log_softmax_at_the_target():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3, 7))  # (T, B, V)
    targets = rng.integers(0, 7, (5, 3))
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    expected = -np.log(np.take_along_axis(p, targets[..., None], -1)[..., 0])
    np.testing.assert_allclose(softmax_nll(logits, targets), expected, rtol=1e-13)
    mean, _ = softmax_cross_entropy(logits, targets)
    assert softmax_nll(logits, targets).mean() == pytest.approx(mean, rel=1e-13)


def test_is_stable_for_large_scores():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    nll = softmax_nll(logits, np.array([1, 2]))
    np.testing.assert_allclose(nll, [1000.0, np.log(3.0)], rtol=1e-15)


def test_refuses_targets_that_do_not_fit():
    with pytest.raises(ValueError, match=r"integer class ids of shape \(4,\)"):
        softmax_nll(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"got dtype int64 and shape \(3,\)"):
        softmax_nll(np.zeros((4, 3)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\] but there are V=3 classes"):
        softmax_nll(np.zeros((2, 3)), np.array([0, 3]))
