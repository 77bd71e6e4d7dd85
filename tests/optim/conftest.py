"""Fixtures for the optimizer tests: torch.optim as the reference implementation."""

import numpy as np
import pytest

from bptt.optim import GradientTransformation, apply_updates
from bptt.types import Params

# Every size differs, so a mixed-up key or a transposed buffer fails loudly.
SHAPES = {"layers.0.W_x": (4, 6), "layers.0.b": (6,), "readout.W": (6, 3), "readout.b": (3,)}
NOISE_SCALES = (1.0, 0.1, 3.0, 0.01)
STEPS = 8


def make_params(dtype=np.float64) -> Params:
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}


def gradient(params: Params, noise: Params) -> Params:
    """Noise plus a term in the params, so the trajectory feeds back into the gradients."""
    return {k: noise[k] + 0.5 * p for k, p in params.items()}


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is the reference for torch.optim parity")


@pytest.fixture
def assert_matches_torch(torch):
    """Check an optimizer against a torch.optim one on the same gradients, at every step.

    ``make_torch_opt(torch, tensors)`` builds the torch optimizer; ``make_scheduler(torch, opt)``
    an optional lr scheduler stepped after each update; ``max_norm`` clips with
    torch.nn.utils.clip_grad_norm_ before each update.
    """

    def check(opt: GradientTransformation, make_torch_opt, *, make_scheduler=None, max_norm=None):
        rng = np.random.default_rng(1)
        noise = [
            {
                k: c * rng.normal(size=s)
                for (k, s), c in zip(SHAPES.items(), NOISE_SCALES, strict=True)
            }
            for _ in range(STEPS)
        ]
        params = make_params()
        ours, state = [], opt.init(params)
        for n in noise:
            updates, state = opt.update(gradient(params, n), state, params)
            params = apply_updates(params, updates)
            ours.append(params)

        tensors = {k: torch.nn.Parameter(torch.from_numpy(v)) for k, v in make_params().items()}
        torch_opt = make_torch_opt(torch, list(tensors.values()))
        scheduler = make_scheduler(torch, torch_opt) if make_scheduler else None
        for step, (n, expected) in enumerate(zip(noise, ours, strict=True)):
            grads = gradient({k: t.detach().numpy() for k, t in tensors.items()}, n)
            for k, t in tensors.items():
                t.grad = torch.from_numpy(grads[k])
            if max_norm is not None:
                torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
            torch_opt.step()
            if scheduler is not None:
                scheduler.step()
            for k, t in tensors.items():
                np.testing.assert_allclose(
                    expected[k],
                    t.detach().numpy(),
                    rtol=1e-12,
                    atol=1e-14,
                    err_msg=f"{k}, step {step}",
                )

    return check
