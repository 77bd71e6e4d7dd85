"""Aliases: parity with torch.optim, convergence, dtypes, the factory and argument checks."""

import numpy as np
import pytest

from bptt.optim import (
    OPTIMIZERS,
    adagrad,
    adam,
    adamw,
    apply_updates,
    make_optimizer,
    momentum,
    rmsprop,
    sgd,
    with_clipping,
)

TORCH_CASES = {
    "sgd": (sgd(0.1), lambda t, ps: t.optim.SGD(ps, lr=0.1)),
    "momentum": (momentum(0.1, 0.9), lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "nesterov": (
        momentum(0.05, 0.8, nesterov=True),
        lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "adam": (adam(1e-2), lambda t, ps: t.optim.Adam(ps, lr=1e-2, foreach=False)),
    "adam-hyper": (
        adam(3e-2, b1=0.8, b2=0.99, eps=1e-3),
        lambda t, ps: t.optim.Adam(ps, lr=3e-2, betas=(0.8, 0.99), eps=1e-3, foreach=False),
    ),
    "adamw": (
        adamw(1e-2, weight_decay=0.1),
        lambda t, ps: t.optim.AdamW(ps, lr=1e-2, weight_decay=0.1, foreach=False),
    ),
    "rmsprop": (rmsprop(1e-2), lambda t, ps: t.optim.RMSprop(ps, lr=1e-2, foreach=False)),
    "rmsprop-momentum": (
        rmsprop(1e-2, decay=0.9, eps=1e-3, momentum=0.5),
        lambda t, ps: t.optim.RMSprop(
            ps, lr=1e-2, alpha=0.9, eps=1e-3, momentum=0.5, foreach=False
        ),
    ),
    "rmsprop-centered": (
        rmsprop(1e-2, centered=True),
        lambda t, ps: t.optim.RMSprop(ps, lr=1e-2, centered=True, foreach=False),
    ),
    "rmsprop-centered-momentum": (
        rmsprop(1e-2, decay=0.95, momentum=0.9, centered=True),
        lambda t, ps: t.optim.RMSprop(
            ps, lr=1e-2, alpha=0.95, momentum=0.9, centered=True, foreach=False
        ),
    ),
    "adagrad": (adagrad(0.1), lambda t, ps: t.optim.Adagrad(ps, lr=0.1, foreach=False)),
    "adagrad-hyper": (
        adagrad(0.1, eps=1e-3, initial_accumulator_value=0.5),
        lambda t, ps: t.optim.Adagrad(
            ps, lr=0.1, eps=1e-3, initial_accumulator_value=0.5, foreach=False
        ),
    ),
    "make_optimizer-nesterov": (
        make_optimizer("nesterov", 0.05, beta=0.8),
        lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "make_optimizer-adamw": (
        make_optimizer("adamw", 1e-2, b1=0.85, weight_decay=0.3),
        lambda t, ps: t.optim.AdamW(ps, lr=1e-2, betas=(0.85, 0.999), weight_decay=0.3),
    ),
}


@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_matches_torch(case, assert_matches_torch):
    opt, make_torch_opt = TORCH_CASES[case]
    assert_matches_torch(opt, make_torch_opt)


def test_with_clipping_matches_torch_clip_grad_norm(assert_matches_torch):
    assert_matches_torch(
        with_clipping(adam(1e-2), max_norm=1.0),
        lambda t, ps: t.optim.Adam(ps, lr=1e-2, foreach=False),
        max_norm=1.0,
    )


# Learning rates and step counts per optimizer, for the parabola and for Rosenbrock.
CONVERGENCE = {
    "sgd": (sgd, 0.1, 1e-3),
    "momentum": (momentum, 0.05, 1e-3),
    "nesterov": (lambda lr: momentum(lr, nesterov=True), 0.05, 1e-3),
    "adam": (adam, 0.1, 1e-2),
    "adamw": (lambda lr: adamw(lr, weight_decay=1e-4), 0.1, 1e-2),
    "rmsprop": (lambda lr: rmsprop(lr, momentum=0.9), 1e-2, 1e-3),
    "rmsprop-centered": (lambda lr: rmsprop(lr, centered=True), 1e-2, 1e-3),
    "adagrad": (adagrad, 0.5, 0.5),
}


def parabola_grad(params):
    """f(x) = sum(a * (x - 1)^2) / 2 with a in [1, 4]: minimum at x = 1."""
    x = params["x"]
    return {"x": np.linspace(1, 4, x.size, dtype=x.dtype) * (x - 1)}


def rosenbrock_grad(params):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: minimum at (1, 1)."""
    x, y = params["xy"]
    return {"xy": np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], x.dtype)}


def minimize(opt, grad_fn, params, steps):
    state = opt.init(params)
    # Once converged, gradients shrink to subnormals; their underflow to zero is harmless.
    with np.errstate(under="ignore"):
        for _ in range(steps):
            updates, state = opt.update(grad_fn(params), state, params)
            params = apply_updates(params, updates)
    return params, state


def state_dtypes(state):
    """The dtype of every array in a (nested) optimizer state."""
    if isinstance(state, np.ndarray):
        return {state.dtype}
    if isinstance(state, dict):
        return state_dtypes(tuple(state.values()))
    if isinstance(state, tuple):
        return set().union(*map(state_dtypes, state))
    return set()  # a step count


@pytest.mark.parametrize("name", CONVERGENCE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_converges_on_parabola_and_keeps_dtype(name, dtype):
    make, lr, _ = CONVERGENCE[name]
    params, state = minimize(make(lr), parabola_grad, {"x": np.zeros(5, dtype)}, 500)
    assert params["x"].dtype == dtype
    assert state_dtypes(state) <= {np.dtype(dtype)}
    np.testing.assert_allclose(params["x"], 1.0, atol=1e-2)


@pytest.mark.parametrize("name", CONVERGENCE)
def test_converges_on_rosenbrock(name):
    make, _, lr = CONVERGENCE[name]
    params, _ = minimize(make(lr), rosenbrock_grad, {"xy": np.array([-1.2, 1.0])}, 20_000)
    assert params["xy"].dtype == np.float64
    np.testing.assert_allclose(params["xy"], 1.0, atol=1e-2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_does_not_mutate_its_inputs(name):
    opt = make_optimizer(name, 0.1)
    params = {"w": np.ones((2, 3)), "b": np.full(3, 2.0)}
    grads = {"w": np.full((2, 3), 0.5), "b": np.ones(3)}
    state = opt.init(params)
    copies = [{k: v.copy() for k, v in d.items()} for d in (params, grads)]
    for _ in range(2):
        updates, state = opt.update(grads, state, params)
        new_params = apply_updates(params, updates)
    for before, after in zip(copies, (params, grads), strict=True):
        for k in before:
            np.testing.assert_array_equal(before[k], after[k])
    assert new_params.keys() == params.keys()
    assert all(new_params[k] is not params[k] for k in params)


def test_make_optimizer_rejects_unknown_name():
    with pytest.raises(
        ValueError, match=r"Unknown optimizer 'adamax'; expected one of sgd, .*adagrad"
    ):
        make_optimizer("adamax", 1e-3)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_rejects_bad_learning_rate(lr):
    with pytest.raises(ValueError, match=r"`learning_rate` must be a positive finite number, got"):
        adam(lr)


def test_rejects_non_number_learning_rate():
    with pytest.raises(TypeError, match=r"`learning_rate` must be a real number, got '1e-3'"):
        sgd("1e-3")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: adam(1e-3, b1=1.0), r"`b1` is a decay rate and must be in \[0, 1\), got 1.0"),
        (lambda: adamw(1e-3, b2=-0.1), r"`b2` is a decay rate and must be in \[0, 1\)"),
        (lambda: adam(1e-3, eps=0.0), r"`eps` must be a positive finite number, got 0.0"),
        (lambda: momentum(0.1, beta=1.5), r"`beta` is a decay rate.*got 1.5"),
        (lambda: rmsprop(0.1, momentum=1.0), r"`momentum` is a decay rate"),
        (lambda: rmsprop(0.1, decay=1.0), r"`decay` is a decay rate"),
        (lambda: adamw(1e-3, weight_decay=-1.0), r"`weight_decay` must be a non-negative"),
        (lambda: adagrad(0.1, initial_accumulator_value=-1), r"`initial_accumulator_value`"),
        (lambda: with_clipping(sgd(0.1), -1.0), r"`max_norm` must be a non-negative finite"),
    ],
)
def test_rejects_bad_hyperparameters_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()
