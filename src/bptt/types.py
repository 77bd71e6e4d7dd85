"""Shared types: the Array alias, the shape letters, and the Cell protocol.

Shape letters used in every docstring, comment and test:

    T  time steps          B  batch            D  input features
    H  hidden units        G  gate blocks (1 RNN, 3 GRU, 4 LSTM)
    V  vocabulary size     O  output features

Sequences are time-major: ``xs`` is (T, B, D), ``hs`` is (T, B, H).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

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


CELL_METHODS = (
    "init_params",
    "sizes",
    "input_projection",
    "step_forward",
    "step_backward",
    "weight_grads",
)
"""The functions every cell defines (see Cell)."""


class Cell(Protocol):
    """One time step of a recurrent network, as pure functions over explicit values.

    A cell keeps no state between calls: everything the backward step needs is in the cache
    returned by the forward step. The BPTT engine depends only on this protocol; the fused
    loops of ``bptt.kernels`` are an optional, separately tested fast path for the built-in
    cells, looked up by the cell's exact type. Any other cell (a subclass included) runs
    through the per-step loop, which calls these functions at every step.

    Attributes:
        name: short name ("rnn", "lstm", "gru", or the user's).
        params_type: the NamedTuple class of this cell's parameters (arrays of one float
            dtype).
        carry_type: the NamedTuple class of this cell's carry; every field is (B, H) and the
            first is ``h``, the output of the step.
    """

    name: str
    params_type: type
    carry_type: type

    def init_params(
        self, rng: np.random.Generator, input_size: int, hidden_size: int, *, dtype: Any = ...
    ) -> CellParams:
        """Fresh parameters for D = ``input_size`` inputs and H = ``hidden_size`` units."""
        ...

    def sizes(self, params: CellParams) -> tuple[int, int]:
        """(D, H): the input and hidden sizes these parameters take (BpttError if they do not
        fit together)."""
        ...

    def input_projection(self, params: CellParams, xs: Array) -> Array:
        """xs (T, B, D) -> xp (T, B, P), every step's input term at once (P is the cell's
        choice, e.g. G*H)."""
        ...

    def step_forward(self, params: CellParams, xp_t: Array, carry: Carry) -> tuple[Carry, Any]:
        """One step: (xp_t (B, P), carry) -> (new carry, cache_t). Must not change its inputs."""
        ...

    def step_backward(
        self, params: CellParams, cache_t: Any, dcarry: Carry
    ) -> tuple[Carry, Array, Array]:
        """dL/dcarry_t -> (dL/dcarry_{t-1}, dxp_t (B, P), dhp_t), where dxp_t is the gradient
        of the step's input term and dhp_t whatever ``weight_grads`` needs beside it (the same
        array when the recurrent term enters like the input one)."""
        ...

    def weight_grads(
        self, params: CellParams, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
    ) -> tuple[CellParams, Array]:
        """Stacked over all steps: xs (T, B, D), hs_prev (T, B, H) the carried h entering each
        step, dxp and dhp stacked (T, B, ...) -> (parameter gradients, dxs (T, B, D))."""
        ...
