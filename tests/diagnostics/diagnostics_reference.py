"""Brute-force references for the diagnostics tests: plain loops and central differences.

Nothing here uses the engine's backward pass; derivatives come from finite differences of a
plain forward loop over ``cell.step_forward``, in float64.
"""

import numpy as np

from bptt.losses import mse, softmax_cross_entropy
from bptt.window import loss_positions

EPS = 1e-6


def plain_forward(model, params, xs, *, perturb=None, carries0=None):
    """Outputs (T, B, O) of a unidirectional model on float inputs xs (T, B, D), no mask.

    ``perturb`` = (layer k, step t, delta (B, H)) adds delta to layer k's h right after step
    t, so the change reaches both that layer's next step and the layer above at step t.
    """
    x = xs
    for k, prefix in enumerate(model.layer_prefixes()):
        p = model.cell_params(params, prefix)
        B, H = xs.shape[1], model.config.hidden_size
        carry = (
            model.cell.carry_type(*(np.zeros((B, H)) for _ in model.cell.carry_type._fields))
            if carries0 is None
            else carries0[k]
        )
        xp = model.cell.input_projection(p, x)
        hs = []
        for t in range(x.shape[0]):
            carry = model.cell.step_forward(p, xp[t], carry)[0]
            if perturb is not None and perturb[0] == k and perturb[1] == t:
                carry = carry._replace(h=carry.h + perturb[2])
            hs.append(carry.h)
        x = np.stack(hs)
    if model.config.output_size is None:
        return x
    return x @ params["readout.W"] + params["readout.b"]


def fd_hidden_lag_norms(model, params, xs):
    """Per layer name, (T,) RMS over sequences of ||dy_last / dh_{last-l}||_F, by central
    differences of the last output with respect to every unit of h_{last-l}."""
    T, B = xs.shape[:2]
    H = model.config.hidden_size
    result = {}
    for k, name in enumerate(model.layer_prefixes()):
        squares = np.zeros((T, B))
        for t in range(T):
            for j in range(H):
                delta = np.zeros((B, H))
                delta[:, j] = EPS  # the sequences are independent: perturb all at once
                up = plain_forward(model, params, xs, perturb=(k, t, delta))[-1]
                down = plain_forward(model, params, xs, perturb=(k, t, -delta))[-1]
                squares[t] += np.sum(((up - down) / (2 * EPS)) ** 2, axis=-1)  # (B,)
        result[name] = np.sqrt(squares.mean(axis=1))[::-1]  # lag l = T - 1 - t
    return result


def fd_input_lag_norms(model, params, xs):
    """(T,) RMS over sequences of ||dy_last / dx_{last-l}||_F by central differences."""
    T, B, D = xs.shape
    squares = np.zeros((T, B))
    for t in range(T):
        for j in range(D):
            up, down = xs.copy(), xs.copy()
            up[t, :, j] += EPS
            down[t, :, j] -= EPS
            dy = (plain_forward(model, params, up)[-1] - plain_forward(model, params, down)[-1]) / (
                2 * EPS
            )
            squares[t] += np.sum(dy**2, axis=-1)
    return np.sqrt(squares.mean(axis=1))[::-1]


def fd_step_gradient_norms(model, params, batch, loss):
    """Per layer name, (T,) ||dL/dh_t|| over the whole (B, H) block, by central differences
    of the mean loss with respect to every entry of h_t."""
    xs = batch.inputs
    T, B = xs.shape[:2]
    H = model.config.hidden_size
    fn = {"mse": mse, "xent": softmax_cross_entropy}[loss]
    positions = loss_positions(batch, 0)

    def value(perturb):
        return fn(plain_forward(model, params, xs, perturb=perturb), batch.targets, positions)[0]

    result = {}
    for k, name in enumerate(model.layer_prefixes()):
        norms = np.zeros(T)
        for t in range(T):
            grad = np.zeros((B, H))
            for b in range(B):
                for j in range(H):
                    delta = np.zeros((B, H))
                    delta[b, j] = EPS
                    grad[b, j] = (value((k, t, delta)) - value((k, t, -delta))) / (2 * EPS)
            norms[t] = np.linalg.norm(grad)
        result[name] = norms
    return result


def fd_carry_jacobian(cell, params, xp_t, carry):
    """(B, N, N) d carry_t / d carry_{t-1} by central differences of one step_forward, with the
    carry flattened as (h, c)."""
    B, H = carry.h.shape
    fields = len(carry)
    J = np.zeros((B, fields * H, fields * H))
    for j in range(fields * H):
        f, u = divmod(j, H)
        up = [a.copy() for a in carry]
        down = [a.copy() for a in carry]
        up[f][:, u] += EPS
        down[f][:, u] -= EPS
        new_up = cell.step_forward(params, xp_t, type(carry)(*up))[0]
        new_down = cell.step_forward(params, xp_t, type(carry)(*down))[0]
        J[:, :, j] = (np.concatenate(new_up, axis=1) - np.concatenate(new_down, axis=1)) / (2 * EPS)
    return J


def explicit_truncated_gradient(model, params, batch, k, loss):
    """(1 / N) sum_w N_w g_w built window by window: the state at each window's start from a
    plain forward over the whole prefix, then one forward and backward over the window alone
    with the gradient of its summed loss."""
    fn = {"mse": mse, "xent": softmax_cross_entropy}[loss]
    T = batch.inputs.shape[0]
    total, count = None, 0
    for start in range(0, T, k):
        stop = min(start + k, T)
        carries = None
        if start > 0:
            carries = model.forward(params, batch.inputs[:start], mask=_part(batch.mask, 0, start))[
                1
            ]
        part = batch.slice(start, stop)
        out, _, cache = model.forward(params, part.inputs, mask=part.mask, carries0=carries)
        positions = loss_positions(part, 0)
        n = int(positions.sum())
        if n == 0:
            continue
        _, dout = fn(out, part.targets, positions)
        grads = model.backward(params, cache, dout * n)[0]  # the window's summed loss
        total = grads if total is None else {name: total[name] + grads[name] for name in grads}
        count += n
    return {name: g / count for name, g in total.items()}


def _part(mask, start, stop):
    return None if mask is None else mask[start:stop]
