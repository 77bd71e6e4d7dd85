"""PyTorch reference models built from our parameters, in double precision (test oracle only).

Our weights multiply from the right and share PyTorch's gate order (LSTM i, f, g, o; GRU r, z, n),
so loading them only transposes:

    weight_ih = W_x.T      weight_hh = W_h.T      bias_ih = b
    bias_hh   = 0 (RNN, LSTM)  or  [0, 0, b_hn] (GRU)

Multi-layer and bidirectional modules take one params NamedTuple per (layer, direction), in
PyTorch's order: layer 0 forward, layer 0 reverse, layer 1 forward, ... Carries are lists in the
same order and become PyTorch's (L * num_directions, B, H) h0 / c0.

Example::

    ref = torch_forward_backward("lstm", [params], xs, [carry0], dhs, [dcarry_T])
    assert relative_error(our_grads.W_h, ref.grads[0].W_h) < 1e-10

This module imports torch; import it after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from bptt.cells import GRUCarry, GRUParams, LSTMCarry, LSTMParams, RNNCarry, RNNParams

# Our cell names (bptt.cells.CELL_NAMES) -> (nn module, nn cell, RNN nonlinearity).
_KINDS = {
    "rnn": (torch.nn.RNN, torch.nn.RNNCell, "tanh"),
    "relu": (torch.nn.RNN, torch.nn.RNNCell, "relu"),
    "irnn": (torch.nn.RNN, torch.nn.RNNCell, "relu"),
    "lstm": (torch.nn.LSTM, torch.nn.LSTMCell, None),
    "gru": (torch.nn.GRU, torch.nn.GRUCell, None),
}


class TorchResult(NamedTuple):
    """Everything a reference run computes, as float64 NumPy arrays in our layout.

    Attributes:
        hs: (T, B, num_directions * H) outputs (zeros after each sequence's length).
        carry_T: final carry per (layer, direction), our carry NamedTuples of (B, H).
        grads: parameter gradients per (layer, direction), our params NamedTuples.
        bias_hh_grads: PyTorch's bias_hh gradient per (layer, direction), (G*H,).
        dxs: (T, B, D) gradient with respect to the inputs.
        dcarry0: gradient with respect to the initial carry per (layer, direction).
    """

    hs: np.ndarray
    carry_T: list[Any]
    grads: list[Any]
    bias_hh_grads: list[np.ndarray]
    dxs: np.ndarray
    dcarry0: list[Any]


def _kind(cell_name: str) -> tuple[type, type, str | None]:
    if cell_name not in _KINDS:
        raise ValueError(f"Unknown cell {cell_name!r}; expected one of {', '.join(_KINDS)}.")
    return _KINDS[cell_name]


def _tensor(a: Any, *, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def _carry_type(cell_name: str) -> type:
    return {"lstm": LSTMCarry, "gru": GRUCarry}.get(cell_name, RNNCarry)


def _params_type(cell_name: str) -> type:
    return {"lstm": LSTMParams, "gru": GRUParams}.get(cell_name, RNNParams)


def _bias_hh(cell_name: str, params: Any) -> np.ndarray:
    GH = np.asarray(params.b).shape[0]
    bias_hh = np.zeros(GH)
    if cell_name == "gru":
        H = GH // 3
        bias_hh[2 * H :] = params.b_hn
    return bias_hh


def _suffixes(num_layers: int, bidirectional: bool) -> list[str]:
    directions = ("", "_reverse") if bidirectional else ("",)
    return [f"_l{layer}{d}" for layer in range(num_layers) for d in directions]


def torch_module(
    cell_name: str,
    params_list: Sequence[Any],
    num_layers: int = 1,
    bidirectional: bool = False,
) -> torch.nn.RNNBase:
    """A float64 torch.nn.RNN / LSTM / GRU holding our weights.

    Args:
        cell_name: "rnn" (tanh), "relu", "irnn", "lstm" or "gru".
        params_list: one params NamedTuple per (layer, direction), PyTorch's order.
        num_layers: L.
        bidirectional: two directions per layer.
    """
    module_type, _, nonlinearity = _kind(cell_name)
    suffixes = _suffixes(num_layers, bidirectional)
    if len(params_list) != len(suffixes):
        raise ValueError(
            f"`params_list` has {len(params_list)} entries, expected {len(suffixes)} "
            f"(num_layers={num_layers}, bidirectional={bidirectional})."
        )
    D = np.asarray(params_list[0].W_x).shape[0]
    H = np.asarray(params_list[0].W_h).shape[0]
    kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
    module = module_type(
        D, H, num_layers=num_layers, bidirectional=bidirectional, dtype=torch.float64, **kwargs
    )
    with torch.no_grad():
        for suffix, params in zip(suffixes, params_list, strict=True):
            getattr(module, "weight_ih" + suffix).copy_(_tensor(np.asarray(params.W_x).T))
            getattr(module, "weight_hh" + suffix).copy_(_tensor(np.asarray(params.W_h).T))
            getattr(module, "bias_ih" + suffix).copy_(_tensor(params.b))
            getattr(module, "bias_hh" + suffix).copy_(_tensor(_bias_hh(cell_name, params)))
    return module


def torch_cell(cell_name: str, params: Any) -> torch.nn.RNNCellBase:
    """A float64 torch.nn.RNNCell / LSTMCell / GRUCell holding our weights."""
    _, cell_type, nonlinearity = _kind(cell_name)
    D, _ = np.asarray(params.W_x).shape
    H = np.asarray(params.W_h).shape[0]
    kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
    cell = cell_type(D, H, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        cell.weight_ih.copy_(_tensor(np.asarray(params.W_x).T))
        cell.weight_hh.copy_(_tensor(np.asarray(params.W_h).T))
        cell.bias_ih.copy_(_tensor(params.b))
        cell.bias_hh.copy_(_tensor(_bias_hh(cell_name, params)))
    return cell


def cell_grads(cell_name: str, cell: torch.nn.RNNCellBase) -> Any:
    """A torch *Cell's accumulated gradients as our params NamedTuple."""
    return _grads_of(cell_name, cell, "")


def _grads_of(cell_name: str, module: torch.nn.Module, suffix: str) -> Any:
    def grad(name: str) -> np.ndarray:
        g = getattr(module, name + suffix).grad
        return np.zeros(tuple(getattr(module, name + suffix).shape)) if g is None else _numpy(g)

    fields = [grad("weight_ih").T, grad("weight_hh").T, grad("bias_ih")]
    if cell_name == "gru":
        H = fields[1].shape[0]
        fields.append(grad("bias_hh")[2 * H :])
    return _params_type(cell_name)(*fields)


def torch_forward_backward(
    cell_name: str,
    params_list: Sequence[Any],
    xs: np.ndarray,
    carry0_list: Sequence[Any] | None = None,
    dhs: np.ndarray | None = None,
    dcarry_T_list: Sequence[Any] | None = None,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    lengths: Sequence[int] | None = None,
) -> TorchResult:
    """Run the reference module on xs and backpropagate a linear loss.

    The loss is sum(dhs * hs) + sum over (layer, direction) of sum(dcarry_T.h * h_T) (+ c).

    Args:
        cell_name, params_list, num_layers, bidirectional: as for ``torch_module``.
        xs: (T, B, D) inputs.
        carry0_list: initial carry per (layer, direction), or None for zeros.
        dhs: (T, B, num_directions * H) upstream gradient of hs, or None.
        dcarry_T_list: upstream gradient of each final carry, or None.
        lengths: per-sequence lengths (B,); runs a packed sequence, the reference for a
            prefix mask ``mask[t, b] = t < lengths[b]``.
    """
    module = torch_module(cell_name, params_list, num_layers, bidirectional)
    x = _tensor(xs, grad=True)
    T, B, _ = x.shape
    H = module.hidden_size
    n_carries = len(params_list)
    carry_fields = _carry_type(cell_name)._fields
    if carry0_list is None:
        carry0_list = [
            _carry_type(cell_name)(*(np.zeros((B, H)) for _ in carry_fields))
        ] * n_carries
    carry0 = [
        _tensor(np.stack([c[k] for c in carry0_list]), grad=True) for k in range(len(carry_fields))
    ]
    hx = tuple(carry0) if cell_name == "lstm" else carry0[0]

    if lengths is None:
        out, hn = module(x, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.as_tensor(lengths, dtype=torch.int64), enforce_sorted=False
        )
        out_packed, hn = module(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, total_length=T)
    finals = list(hn) if cell_name == "lstm" else [hn]

    loss = torch.zeros((), dtype=torch.float64)
    if dhs is not None:
        loss = loss + (out * _tensor(dhs)).sum()
    if dcarry_T_list is not None:
        for k, final in enumerate(finals):
            upstream = np.stack([d[k] for d in dcarry_T_list])
            loss = loss + (final * _tensor(upstream)).sum()
    loss.backward()

    carry_type = _carry_type(cell_name)
    suffixes = _suffixes(num_layers, bidirectional)

    def carries(tensors: list[torch.Tensor | None]) -> list[Any]:
        arrays = [
            np.zeros((n_carries, B, H)) if t is None else _numpy(t)  # no path from the loss
            for t in tensors
        ]
        return [carry_type(*(a[i] for a in arrays)) for i in range(n_carries)]

    bias_hh_grads = []
    for suffix in suffixes:
        g = getattr(module, "bias_hh" + suffix).grad
        bias_hh_grads.append(
            np.zeros(getattr(module, "bias_hh" + suffix).shape[0]) if g is None else _numpy(g)
        )
    return TorchResult(
        hs=_numpy(out),
        carry_T=carries(finals),
        grads=[_grads_of(cell_name, module, suffix) for suffix in suffixes],
        bias_hh_grads=bias_hh_grads,
        dxs=np.zeros(xs.shape) if x.grad is None else _numpy(x.grad),
        dcarry0=carries([c.grad for c in carry0]),
    )


def torch_step(cell_name: str, params: Any, x: np.ndarray, carry: Any, dcarry: Any) -> tuple:
    """One step of the reference *Cell and its backward pass for a linear loss.

    Args:
        x: (B, D) input of the step; carry: our carry of (B, H) arrays.
        dcarry: upstream gradient of the new carry (our carry NamedTuple).

    Returns:
        (new carry, params grads, dx (B, D), dcarry_prev), our NamedTuples, float64.
    """
    cell = torch_cell(cell_name, params)
    xt = _tensor(x, grad=True)
    fields = [_tensor(f, grad=True) for f in carry]
    new = [cell(xt, fields[0])] if cell_name != "lstm" else list(cell(xt, tuple(fields)))
    loss = sum((n * _tensor(d)).sum() for n, d in zip(new, dcarry, strict=True))
    loss.backward()
    carry_type = _carry_type(cell_name)
    dprev = carry_type(
        *(np.zeros(np.shape(f)) if f.grad is None else _numpy(f.grad) for f in fields)
    )
    new_carry = carry_type(*(_numpy(n) for n in new))
    return new_carry, cell_grads(cell_name, cell), _numpy(xt.grad), dprev
