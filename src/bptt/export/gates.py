"""bptt's recurrent weights in the layout of the ONNX RNN, LSTM and GRU operators.

ONNX stores one layer (both directions) as

    W  (num_directions, G*H, D)    input weights, transposed:  W[d] = W_x.T, gate blocks reordered
    R  (num_directions, G*H, H)    recurrent weights:          R[d] = W_h.T, gate blocks reordered
    B  (num_directions, 2*G*H)     [Wb, Rb]: the input and the recurrent biases

with gate blocks in its own order, which differs from PyTorch's (ours):

    cell   bptt (PyTorch)    ONNX     ONNX block k is bptt block ONNX_BLOCKS[cell][k]
    rnn    -                 -        (0,)
    lstm   i, f, g, o        i, o, f, c   (0, 3, 1, 2)
    gru    r, z, n           z, r, h      (1, 0, 2)

Our single bias goes to Wb and Rb is zero, except in the GRU's hidden block: Rb_h = b_hn, which
ONNX keeps inside the reset product when ``linear_before_reset=1``,

    h_t~ = tanh(x W_h^T + Wb_h + r * (h_{t-1} R_h^T + Rb_h))    (ONNX GRU, linear_before_reset=1)
    n    = tanh(x W_n   + b_n  + r * (h U_n         + b_hn))    (bptt, PyTorch)

so the ONNX graph computes exactly our function.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bptt.types import Array

ONNX_BLOCKS = {"rnn": (0,), "lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}
"""For each ONNX operator, the bptt gate block that fills each of its blocks, in order."""


class OnnxWeights(NamedTuple):
    """One layer's ONNX operator inputs W (dirs, G*H, D), R (dirs, G*H, H), B (dirs, 2*G*H)."""

    W: Array
    R: Array
    B: Array


def reorder_blocks(a: Array, blocks: tuple[int, ...], axis: int = -1) -> Array:
    """``a`` with its G equal blocks along ``axis`` taken in the order ``blocks``."""
    parts = np.split(a, len(blocks), axis=axis)
    return np.concatenate([parts[k] for k in blocks], axis=axis)


def onnx_weights(op: str, directions: list[Any], dtype: Any) -> OnnxWeights:
    """W, R and B of one layer for the ONNX operator ``op`` ("rnn", "lstm" or "gru").

    Args:
        op: the operator family, which fixes the gate order.
        directions: the cell parameters (W_x (D, G*H), W_h (H, G*H), b (G*H,)[, b_hn (H,)])
            of the forward direction, then of the reverse one for a bidirectional layer.
        dtype: the dtype of the exported graph.

    Returns:
        OnnxWeights, each stacked over directions.
    """
    blocks = ONNX_BLOCKS[op]
    Ws, Rs, Bs = [], [], []
    for p in directions:
        Ws.append(reorder_blocks(p.W_x, blocks).T)  # (G*H, D)
        Rs.append(reorder_blocks(p.W_h, blocks).T)  # (G*H, H)
        recurrent_bias = np.zeros_like(p.b)  # (G*H,)
        if op == "gru":
            H = p.W_h.shape[0]
            recurrent_bias[2 * H :] = p.b_hn  # ONNX's h block is the last one
        Bs.append(np.concatenate([reorder_blocks(p.b, blocks), recurrent_bias]))  # (2*G*H,)
    return OnnxWeights(
        *(np.ascontiguousarray(np.stack(arrays), dtype=dtype) for arrays in (Ws, Rs, Bs))
    )
