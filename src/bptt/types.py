"""Shared types: the Array alias, the shape letters, and the Cell protocol.

Shape letters used in every docstring, comment and test:

    T  time steps          B  batch            D  input features
    H  hidden units        G  gate blocks (1 RNN, 3 GRU, 4 LSTM)
    V  vocabulary size     O  output features

Sequences are time-major: ``xs`` is (T, B, D), ``hs`` is (T, B, H).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]
"""A floating-point NumPy array (float32 for training, float64 for gradient checks)."""

Params = dict[str, Array]
"""A model's parameters: an ordered mapping from dotted names (``layers.0.W_x``) to arrays."""

Carry = Any
"""A cell's recurrent state: a NamedTuple of (B, H) arrays whose first field is ``h``."""

CellParams = Any
"""A cell's parameters: a NamedTuple of arrays (e.g. LSTMParams(W_x, W_h, b))."""

Observer = Callable[[int, Any], None]
"""Called by the backward pass as ``observer(t, dcarry_t)`` with dL/dcarry_t (dL/dh_t, dL/dc_t)."""


class SequenceKernels(NamedTuple):
    """Whole-sequence loops equivalent to a cell's step functions (optional, for speed).

    A cell may offer them as a ``sequence_kernels`` attribute (None when it has none); the
    engine then uses them for every sequence, and falls back to calling ``step_forward`` and
    ``step_backward`` at every step for cells without the attribute.

    Attributes:
        forward: ``forward(params, xs, carry0, mask, resets, *, keep) -> (hs, hs_ext, carry_T,
            caches)``: the outputs hs (T, B, H); hs_ext (T + 1, B, H), the carried hidden
            states as in Tape (after any reset); and, when ``keep`` is True, ``caches``, the T
            per-step caches as views into whole-sequence arrays (a SequenceCaches), else None.
            ``mask`` and ``resets`` are (T, B) bool arrays or None, as for ``engine.forward``.
        backward: ``backward(params, xs, hs_ext, caches, dhs, dcarry_T, mask, resets,
            observer, input_grad=True) -> (grads, dxs, dcarry0)``, with ``dhs`` (T, B, H) or
            None, and dxs None when ``input_grad`` is False.
    """

    forward: Callable[..., tuple[Array, Array, Any, Any]]
    backward: Callable[..., tuple[Any, Array, Any]]


CELL_METHODS = (
    "init_params",
    "input_projection",
    "step_forward",
    "step_backward",
    "weight_grads",
)
"""The functions every cell defines (see Cell)."""


class Cell(Protocol):
    """One time step of a recurrent network, as pure functions over explicit values.

    A cell keeps no state between calls: everything the backward step needs is in the
    cache returned by the forward step. The BPTT engine depends only on this protocol.
    A cell may also offer ``sequence_kernels`` (see SequenceKernels), fused loops over a
    whole sequence that compute the same values faster; the engine works without them.

    Attributes:
        name: short name ("rnn", "lstm", "gru").
        num_gates: G, the number of (H,)-wide blocks in the projections.
        params_type: the NamedTuple class of this cell's parameters.
        carry_type: the NamedTuple class of this cell's carry; its first field is ``h``.
        separate_hidden_grad: True when ``step_backward`` returns a ``dhp_t`` that differs from
            ``dxp_t`` (GRU); False when both are the same array (RNN, LSTM).
    """

    name: str
    num_gates: int
    params_type: type
    carry_type: type
    separate_hidden_grad: bool

    def init_params(
        self, rng: np.random.Generator, input_size: int, hidden_size: int, *, dtype: Any = ...
    ) -> CellParams: ...

    def input_projection(self, params: CellParams, xs: Array) -> Array:
        """xs (T, B, D) -> xp (T, B, G*H), one matrix product for all steps."""
        ...

    def step_forward(self, params: CellParams, xp_t: Array, carry: Carry) -> tuple[Carry, Any]:
        """One step: (xp_t (B, G*H), carry) -> (new carry, cache_t)."""
        ...

    def step_backward(
        self, params: CellParams, cache_t: Any, dcarry: Carry
    ) -> tuple[Carry, Array, Array]:
        """dL/dcarry_t -> (dL/dcarry_{t-1}, dxp_t (B, G*H), dhp_t (B, G*H))."""
        ...

    def weight_grads(
        self, params: CellParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[CellParams, Array]:
        """Stacked products over all T*B rows -> (parameter gradients, dxs (T, B, D))."""
        ...
