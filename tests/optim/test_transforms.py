"""Transforms: formulas, clipping against torch, dtypes, purity and argument checks."""

import numpy as np
import pytest

from bptt.optim import (
    NO_PARAMS_MSG,
    EmptyState,
    add_decayed_weights,
    clip,
    clip_by_global_norm,
    global_norm,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    scale_by_stddev,
    trace,
)


def grads(dtype=np.float64, factor=1.0):
    rng = np.random.default_rng(2)
    return {
        "W": (factor * rng.normal(size=(3, 4))).astype(dtype),
        "b": (factor * rng.normal(size=(4,))).astype(dtype),
    }


ALL_TRANSFORMS = {
    "scale": scale(-0.5),
    "scale_by_schedule": scale_by_schedule(lambda count: 0.5**count),
    "scale_by_learning_rate": scale_by_learning_rate(0.1),
    "scale_by_adam": scale_by_adam(),
    "scale_by_rms": scale_by_rms(),
    "scale_by_stddev": scale_by_stddev(),
    "scale_by_rss": scale_by_rss(0.1),
    "trace": trace(0.9),
    "trace-nesterov": trace(0.9, nesterov=True),
    "add_decayed_weights": add_decayed_weights(0.1),
    "clip_by_global_norm": clip_by_global_norm(1.0),
    "clip": clip(0.5),
}


@pytest.mark.parametrize("name", ALL_TRANSFORMS)
def test_keeps_float32_and_does_not_mutate(name):
    transform = ALL_TRANSFORMS[name]
    g, params = grads(np.float32), grads(np.float32, factor=2.0)
    g_copy = {k: v.copy() for k, v in g.items()}
    state = transform.init(params)
    for _ in range(3):
        updates, state = transform.update(g, state, params)
    assert updates.keys() == g.keys()
    assert all(u.dtype == np.float32 for u in updates.values())
    for k in g:
        np.testing.assert_array_equal(g[k], g_copy[k])


def test_scale_by_adam_first_step_is_the_sign_of_the_gradient():
    g = grads()
    updates, state = scale_by_adam(eps=1e-12).update(g, scale_by_adam().init(g))
    assert state.count == 1
    for k in g:
        np.testing.assert_allclose(updates[k], np.sign(g[k]), rtol=1e-9)
        np.testing.assert_allclose(state.nu[k], 0.001 * g[k] ** 2, rtol=1e-14)


def test_trace_accumulates_and_nesterov_looks_ahead():
    g = {"w": np.array([1.0, -2.0])}
    heavy, nesterov = trace(0.5), trace(0.5, nesterov=True)
    s_h, s_n = heavy.init(g), nesterov.init(g)
    for expected_buf in ([1.0, -2.0], [1.5, -3.0], [1.75, -3.5]):
        u_h, s_h = heavy.update(g, s_h)
        u_n, s_n = nesterov.update(g, s_n)
        np.testing.assert_allclose(u_h["w"], expected_buf)
        np.testing.assert_allclose(u_n["w"], g["w"] + 0.5 * np.array(expected_buf))


def test_scale_by_rss_and_rms_divide_by_root_plus_eps():
    g = {"w": np.array([3.0, -4.0])}
    u, _ = scale_by_rss(initial_accumulator_value=16.0, eps=0.5).update(
        g, scale_by_rss(16.0).init(g)
    )
    np.testing.assert_allclose(u["w"], [3.0 / (5.0 + 0.5), -4.0 / (np.sqrt(32.0) + 0.5)])
    u, _ = scale_by_rms(decay=0.75, eps=0.5).update(g, scale_by_rms().init(g))
    np.testing.assert_allclose(u["w"], g["w"] / (0.5 * np.abs(g["w"]) + 0.5))


def test_scale_by_stddev_stays_finite_for_a_constant_gradient():
    # v - m^2 = decay^t (1 - decay^t) g^2 cancels to rounding error; it must not become NaN.
    g = {"w": np.array([1.0, 1e-3])}
    transform = scale_by_stddev(decay=0.5, eps=1e-8)
    state = transform.init(g)
    for _ in range(200):
        updates, state = transform.update(g, state)
    assert np.isfinite(updates["w"]).all()


def test_scale_by_learning_rate_flips_the_sign_and_follows_a_schedule():
    g = grads()
    fixed, _ = scale_by_learning_rate(0.1).update(g, EmptyState())
    np.testing.assert_allclose(fixed["W"], -0.1 * g["W"])
    ascent, _ = scale_by_learning_rate(0.1, flip_sign=False).update(g, EmptyState())
    np.testing.assert_allclose(ascent["W"], 0.1 * g["W"])
    scheduled = scale_by_learning_rate(lambda count: 1.0 / (count + 1))
    state = scheduled.init(g)
    for count in range(3):
        updates, state = scheduled.update(g, state)
        np.testing.assert_allclose(updates["b"], -g["b"] / (count + 1))
    assert state.count == 3


def test_add_decayed_weights_needs_params():
    g = grads()
    transform = add_decayed_weights(0.1)
    updates, _ = transform.update(g, transform.init(g), g)
    np.testing.assert_allclose(updates["W"], 1.1 * g["W"])
    with pytest.raises(ValueError, match=NO_PARAMS_MSG.split(",")[0]):
        transform.update(g, transform.init(g))


def test_global_norm_is_the_norm_of_all_entries_together():
    g = grads()
    flat = np.concatenate([v.ravel() for v in g.values()])
    assert global_norm(g) == pytest.approx(np.linalg.norm(flat), rel=1e-14)
    assert global_norm({"w": np.full(4, 1e30, np.float32)}) == pytest.approx(2e30)


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_by_global_norm_matches_torch(torch, max_norm):
    g = grads(factor=2.0)
    clipped, _ = clip_by_global_norm(max_norm).update(g, EmptyState())
    tensors = [torch.zeros(v.shape, dtype=torch.float64) for v in g.values()]
    for t, v in zip(tensors, g.values(), strict=True):
        t.grad = torch.from_numpy(v.copy())
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert global_norm(g) == pytest.approx(total.item(), rel=1e-14)
    for t, v in zip(tensors, clipped.values(), strict=True):
        np.testing.assert_allclose(v, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def cosine(a, b):
    a, b = (np.concatenate([v.ravel() for v in d.values()]) for d in (a, b))
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def test_global_norm_clipping_keeps_the_direction_and_elementwise_clip_turns_it():
    g = grads(factor=3.0)
    by_norm, _ = clip_by_global_norm(1.0).update(g, EmptyState())
    by_entry, _ = clip(0.5).update(g, EmptyState())
    assert global_norm(by_norm) == pytest.approx(1.0, rel=1e-5)
    assert cosine(by_norm, g) == pytest.approx(1.0, rel=1e-14)
    assert max(np.abs(v).max() for v in by_entry.values()) == 0.5
    assert cosine(by_entry, g) < 0.99


def test_clip_by_global_norm_leaves_small_gradients_unchanged():
    g = grads()
    updates, _ = clip_by_global_norm(10 * global_norm(g)).update(g, EmptyState())
    for k in g:
        np.testing.assert_array_equal(updates[k], g[k])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: scale_by_adam(b1=-0.5), r"`b1` is a decay rate and must be in \[0, 1\), got -0.5"),
        (lambda: scale_by_adam(b2=1.0), r"`b2` is a decay rate"),
        (lambda: scale_by_adam(eps=-1e-8), r"`eps` must be a positive finite number, got -1e-08"),
        (lambda: scale_by_rms(eps=float("nan")), r"`eps` must be a positive finite number"),
        (lambda: scale_by_stddev(decay=2.0), r"`decay` is a decay rate"),
        (lambda: scale_by_rss(eps=0), r"`eps` must be a positive finite number, got 0.0"),
        (lambda: trace(decay=1.0), r"`decay` is a decay rate"),
        (lambda: clip_by_global_norm(-1.0), r"`max_norm` must be a non-negative finite number"),
        (lambda: clip_by_global_norm(float("inf")), r"`max_norm` must be a non-negative finite"),
        (lambda: clip(-5.0), r"`max_delta` must be a non-negative finite number, got -5.0"),
        (lambda: scale_by_learning_rate(-0.1), r"`learning_rate` must be a positive finite"),
    ],
)
def test_rejects_bad_arguments_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()
