"""Convert recurrent parameters to and from PyTorch's nn.RNN / nn.LSTM / nn.GRU state dicts.

NumPy in, NumPy out: bptt never imports torch. PyTorch stores ``weight_ih_l{l}`` (G*H, D) and
``weight_hh_l{l}`` (G*H, H), the transposes of our W_x (D, G*H) and W_h (H, G*H), with the same
gate order (LSTM i, f, g, o; GRU r, z, n), and two biases where we keep one:

    b    = bias_ih + bias_hh                       RNN, LSTM
    b    = bias_ih + [bias_hh_r, bias_hh_z, 0]     GRU
    b_hn = bias_hh_n                               GRU (it sits inside the reset product)

Exporting writes the whole bias into ``bias_ih`` and zeros (or [0, 0, b_hn]) into ``bias_hh``,
so export then import is exact, and import then export computes the same function.
Only the recurrent stack (``layers.*``) is converted; embedding and readout have no
counterpart in these modules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from bptt.cells import make_cell
from bptt.errors import BpttError
from bptt.types import Array, Params

_LAYER_KEY = re.compile(r"^layers\.(\d+)(\.reverse)?\.(W_x|W_h|b|b_hn)$")
_TORCH_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


def to_torch_state_dict(params: Params, cell: str) -> dict[str, Array]:
    """Our ``layers.*`` parameters as a PyTorch RNN/LSTM/GRU state dict (NumPy arrays).

    Args:
        params: model parameters (other keys, such as ``readout.W``, are ignored).
        cell: the model's cell name ("rnn", "relu", "irnn", "lstm", "gru").

    Returns:
        {"weight_ih_l0": (G*H, D), "weight_hh_l0": (G*H, H), "bias_ih_l0": (G*H,),
        "bias_hh_l0": (G*H,), ..., "weight_ih_l0_reverse": ...}; load with
        ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.
    """
    is_gru = make_cell(cell).name == "gru"
    layers: dict[tuple[int, str], dict[str, Array]] = {}
    for key, value in params.items():
        match = _LAYER_KEY.match(key)
        if match:
            layer, rev, field = int(match[1]), match[2] or "", match[3]
            layers.setdefault((layer, "_reverse" if rev else ""), {})[field] = value
    if not layers:
        raise BpttError("`params` hold no `layers.*` entries to convert.")
    state: dict[str, Array] = {}
    for (layer, suffix), p in sorted(layers.items()):
        tag = f"l{layer}{suffix}"
        H = p["W_h"].shape[0]
        bias_hh = np.zeros_like(p["b"])
        if is_gru:
            bias_hh[2 * H :] = p["b_hn"]
        state[f"weight_ih_{tag}"] = np.ascontiguousarray(p["W_x"].T)
        state[f"weight_hh_{tag}"] = np.ascontiguousarray(p["W_h"].T)
        state[f"bias_ih_{tag}"] = p["b"].copy()
        state[f"bias_hh_{tag}"] = bias_hh
    return state


def from_torch_state_dict(state_dict: Mapping[str, Array], cell: str) -> Params:
    """Parameters ``layers.*`` from a PyTorch RNN/LSTM/GRU state dict of NumPy arrays.

    Args:
        state_dict: e.g. ``{k: v.numpy() for k, v in module.state_dict().items()}``; the
            module must have been built with ``bias=True`` and ``batch_first`` is irrelevant.
        cell: the cell name matching the module ("rnn"/"relu" for nn.RNN, "lstm", "gru").

    Returns:
        An ordered mapping ``layers.{l}[.reverse].{W_x, W_h, b[, b_hn]}``.

    Raises:
        ValueError: a key that is not an RNN weight (e.g. proj_size's ``weight_hr``), a missing
            bias, or shapes that do not fit the cell's gate count.
    """
    is_gru = make_cell(cell).name == "gru"
    G = make_cell(cell).num_gates
    groups: dict[tuple[int, str], dict[str, Array]] = {}
    for key, value in state_dict.items():
        match = _TORCH_KEY.match(key)
        if not match:
            raise BpttError(
                f"`state_dict` key {key!r} is not a weight_ih/weight_hh/bias_ih/bias_hh of a "
                "plain nn.RNN/LSTM/GRU (proj_size and bias=False are not supported)."
            )
        layer, suffix = int(match[2]), match[3] or ""
        groups.setdefault((layer, suffix), {})[match[1]] = np.asarray(value)
    params: Params = {}
    for (layer, suffix), g in sorted(groups.items()):
        missing = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"} - set(g)
        if missing:
            raise BpttError(f"`state_dict` lacks {sorted(missing)} for layer {layer}{suffix}.")
        GH, H = g["weight_hh"].shape
        if GH != G * H:
            raise BpttError(
                f"`weight_hh_l{layer}{suffix}` has shape {g['weight_hh'].shape}; a {cell} "
                f"layer needs ({G}*H, H). Is `cell` right?"
            )
        prefix = f"layers.{layer}" + (".reverse" if suffix else "")
        bias_hh = g["bias_hh"]
        params[f"{prefix}.W_x"] = np.ascontiguousarray(g["weight_ih"].T)
        params[f"{prefix}.W_h"] = np.ascontiguousarray(g["weight_hh"].T)
        if is_gru:
            merged = bias_hh.copy()
            merged[2 * H :] = 0
            params[f"{prefix}.b"] = g["bias_ih"] + merged
            params[f"{prefix}.b_hn"] = bias_hh[2 * H :].copy()
        else:
            params[f"{prefix}.b"] = g["bias_ih"] + bias_hh
    return params
