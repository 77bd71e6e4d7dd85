"""Helpers shared by the cells: activations, initialisation and parameter checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from bptt.cells import buffers
from bptt.errors import BpttError, BpttTypeError
from bptt.types import Array, SequenceKernels

FLOAT_DTYPES = (np.float32, np.float64)

STEP_FUNCTIONS = ("input_projection", "step_forward", "step_backward", "weight_grads")
"""The Cell methods whose math a cell's sequence kernels fuse."""


def sigmoid(x: Array, out: Array | None = None) -> Array:
    """Logistic sigmoid through tanh: s(x) = (1 + tanh(x / 2)) / 2.

    One transcendental call instead of exp plus a division, and it never overflows
    (``np.seterr(all="raise")`` safe for any input).
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def uniform_init(
    rng: np.random.Generator, shape: tuple[int, ...], hidden_size: int, dtype: Any
) -> Array:
    """PyTorch's default RNN initialisation: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def check_sizes(input_size: int, hidden_size: int, dtype: Any) -> np.dtype:
    """Validate the sizes and dtype given to ``init_params``; return the dtype."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise BpttError(f"`{name}` must be a positive integer, got {value!r}.")
    dt = np.dtype(dtype)
    if dt not in FLOAT_DTYPES:
        raise BpttTypeError(f"`dtype` must be float32 or float64, got {dt}.")
    return dt


def check_params(cell: Any, params: Any) -> tuple[int, int, np.dtype]:
    """Check that ``params`` belong to ``cell`` and are consistent; return (D, H, dtype).

    Raises:
        TypeError: params of another cell type, or arrays of mixed or non-float dtypes.
        ValueError: weight shapes that do not fit together.
    """
    if not isinstance(params, cell.params_type):
        raise BpttTypeError(
            f"`params` are {type(params).__name__} but the {cell.name} cell expects "
            f"{cell.params_type.__name__}. Initialise them with the same cell's init_params."
        )
    for field, value in zip(params._fields, params, strict=True):
        if not isinstance(value, np.ndarray):
            raise BpttTypeError(
                f"`params.{field}` is {type(value).__name__}; expected a NumPy array. "
                "Build the parameters with the cell's init_params."
            )
    dtypes = {a.dtype for a in params}
    if len(dtypes) != 1 or next(iter(dtypes)) not in FLOAT_DTYPES:
        raise BpttTypeError(
            f"`params` must all be float32 or all float64, got dtypes "
            f"{sorted(str(d) for d in dtypes)}. Cast them with .astype(np.float32) or np.float64."
        )
    W_x, W_h, b = params.W_x, params.W_h, params.b
    G = cell.num_gates
    if W_h.ndim != 2 or W_h.shape[1] != G * W_h.shape[0]:
        raise BpttError(
            f"`params.W_h` has shape {W_h.shape} but the {cell.name} cell expects (H, {G}*H)."
        )
    H = W_h.shape[0]
    if W_x.ndim != 2 or W_x.shape[1] != G * H:
        raise BpttError(
            f"`params.W_x` has shape {W_x.shape} but the {cell.name} cell expects (D, {G * H})."
        )
    if b.shape != (G * H,):
        raise BpttError(f"`params.b` has shape {b.shape}, expected ({G * H},).")
    b_hn = getattr(params, "b_hn", None)
    if b_hn is not None and b_hn.shape != (H,):
        raise BpttError(f"`params.b_hn` has shape {b_hn.shape}, expected ({H},) = (H,).")
    return W_x.shape[0], H, next(iter(dtypes))


def project_inputs(W_x: Array, b: Array, xs: Array) -> Array:
    """xp = xs @ W_x + b for every step at once, one (T*B, D) x (D, G*H) product."""
    T, B, D = xs.shape
    xp = xs.reshape(T * B, D) @ W_x  # (T*B, G*H)
    xp += b
    return xp.reshape(T, B, -1)  # (T, B, G*H)


def stacked_grads(
    W_x: Array, xs: Array, hs_prev: Array, dxp: Array, dhp: Array
) -> tuple[Array, Array, Array, Array]:
    """One product per weight over the stacked T*B rows.

    Returns:
        (dW_x (D, G*H), dW_h (H, G*H), db (G*H,), dxs (T, B, D)).
    """
    T, B, D = xs.shape
    GH = dxp.shape[-1]
    dxp2 = dxp.reshape(T * B, GH)
    dW_x = xs.reshape(T * B, D).T @ dxp2  # (D, G*H)
    dW_h = hs_prev.reshape(T * B, -1).T @ dhp.reshape(T * B, GH)  # (H, G*H)
    db = dxp2.sum(axis=0)  # (G*H,)
    dxs = (dxp2 @ W_x.T).reshape(T, B, D)  # (T, B, D)
    return dW_x, dW_h, db, dxs


class SequenceCaches(Sequence):
    """The T per-step caches of a fused forward pass, as views into whole-sequence arrays.

    It reads as the list of caches ``step_forward`` would have returned, so code that reads
    ``tape.caches[t]`` works unchanged; each cache is made when it is read (``cache(t)``),
    not T of them per forward pass. ``arrays`` are the arrays the caches view and ``kernels``
    the kernels that wrote them: the fused backward pass reads the arrays whole. A slice or
    ``list(...)`` of it is a plain list, which the engine walks step by step.
    """

    def __init__(
        self, T: int, cache: Callable[[int], Any], arrays: tuple[Array, ...], kernels: Any
    ) -> None:
        self._T, self._cache = T, cache
        self.arrays = arrays
        self.kernels = kernels

    def __len__(self) -> int:
        return self._T

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._cache(t) for t in range(self._T)[index]]
        t = range(self._T)[index]  # IndexError beyond the steps, negative indices as a list's
        return self._cache(t)


def step_functions(cls: type) -> tuple[Any, ...]:
    """The functions a cell class defines for STEP_FUNCTIONS, to detect later replacements."""
    return tuple(getattr(cls, name) for name in STEP_FUNCTIONS)


def kernels_if_unchanged(
    cell: Any, originals: tuple[Any, ...], kernels: SequenceKernels
) -> SequenceKernels | None:
    """``kernels`` while ``cell`` still uses the step functions they fuse, else None.

    A subclass or a monkeypatch that replaces ``step_forward`` (or another of STEP_FUNCTIONS)
    must take effect, so such a cell gets the per-step loop that calls its functions.
    """
    cls = type(cell)
    for name, original in zip(STEP_FUNCTIONS, originals, strict=True):
        if getattr(cls, name, None) is not original:
            return None
    return kernels


def gate_affine(blocks: str, H: int, B: int, dtype: Any) -> tuple[Array, Array]:
    """(scale, shift), each (G*H, B), that turn tanh into the gate activations block by block.

    A block marked "s" is a sigmoid, computed as s(z) = 0.5 + 0.5 tanh(z / 2); "t" is tanh.
    The fused loops scale the sigmoid rows of W_x^T, W_h^T and b by 0.5 (exact in floating
    point), so one tanh call covers every gate, followed by ``y * scale + shift``. Both are
    full (G*H, B) arrays: a ufunc over two same-shaped arrays is faster than a broadcast.
    """
    scale = np.repeat([0.5 if k == "s" else 1.0 for k in blocks], H).astype(dtype)
    shift = np.repeat([0.5 if k == "s" else 0.0 for k in blocks], H).astype(dtype)
    full = (scale.shape[0], B)
    return np.broadcast_to(scale[:, None], full).copy(), np.broadcast_to(
        shift[:, None], full
    ).copy()


def projection_t(W_x: Array, b: Array, xs: Array, scale: Array) -> Array:
    """The input projection, feature-major: xp[t] = ((x_t W_x + b) * scale)^T, (T, G*H, B).

    One (G*H, D) x (D, B) product per step, written straight into the (T, G*H, B) array;
    ``scale`` (G*H,) multiplies the columns of W_x and b.
    """
    W_xT = (W_x * scale).T  # (G*H, D)
    xp = np.matmul(W_xT, xs.transpose(0, 2, 1))  # (T, G*H, B)
    xp += (b * scale)[:, None]
    return xp


def stacked_inputs(
    W_x: Array, W_h: Array, b: Array, xs: Array, h0: Array, scale: Array
) -> tuple[Array, Array]:
    """The operands of one product per step that gives the whole pre-activation.

    Returns:
        W (G*H, H + D + 1) = [W_h^T  W_x^T  b], C-ordered, with every row multiplied by
        ``scale`` (G*H,), and hx (T + 1, H + D + 1, B) holding [h_{t-1}^T; x_t^T; 1] for each
        step t: rows :H are h0^T at t = 0 and are to be filled with h_t^T by the loop (row H:
        of the last step are unused). Then z_t^T = W @ hx[t].
    """
    T, B, D = xs.shape
    H = W_h.shape[0]
    W = np.concatenate([W_h.T, W_x.T, b[:, None]], axis=1)  # (G*H, H + D + 1)
    W = np.multiply(W, scale[:, None], order="C")
    hx = buffers.empty((T + 1, H + D + 1, B), W.dtype)
    hx[0, :H] = h0.T
    hx[:T, H : H + D] = xs.transpose(0, 2, 1)
    hx[:, H + D] = 1
    return W, hx


def step_runs(
    start: int, stop: int, before: Iterable[int], after: Iterable[int]
) -> list[tuple[int, int]]:
    """[a, b) runs of steps that cover start..stop-1, split before every step in ``before``
    and after every step in ``after`` (those in range), so that a loop can run each run in
    one go and handle those steps' columns in between: before a restart, after a padded
    step; a step in both is a run of its own."""
    inside = range(start, stop)
    cuts = {start, stop, *(t for t in before if t in inside)}
    cuts.update(t + 1 for t in after if t in inside)
    return list(pairwise(sorted(cuts)))


def valid_steps(mask: np.ndarray | None, T: int, B: int) -> np.ndarray:
    """The (T, B) mask as a C-ordered boolean array, all True without one."""
    if mask is None:
        return np.ones((T, B), dtype=bool)
    return np.ascontiguousarray(mask, dtype=bool)


def time_major(a: Array) -> Array:
    """(T, N, B) feature-major steps -> a C-contiguous (T, B, N) copy."""
    return np.ascontiguousarray(a.transpose(0, 2, 1))


def restart_columns(resets: np.ndarray | None) -> dict[int, np.ndarray]:
    """{t: (B,) bool} for every step t where some sequence restarts; empty without resets."""
    if resets is None:
        return {}
    return {int(t): resets[t] for t in np.flatnonzero(resets.any(axis=1))}


def padded_columns(mask: np.ndarray | None) -> dict[int, np.ndarray]:
    """{t: (B,) bool} of the padded sequences at every step t that has some; empty without."""
    if mask is None:
        return {}
    return {int(t): ~mask[t] for t in np.flatnonzero(~mask.all(axis=1))}


def zero_padded(hs: Array, mask: np.ndarray | None) -> Array:
    """The outputs hs (T, B, H) with zeros at the padded steps of ``mask`` (T, B)."""
    return hs if mask is None else np.where(mask[:, :, None], hs, 0).astype(hs.dtype)


def outputs_before_resets(
    hs_ext: Array, kept: dict[int, Array], restarts: dict[int, np.ndarray]
) -> Array:
    """The outputs hs (T, B, H) from the carried states hs_ext (T + 1, B, H).

    hs_ext[t + 1] is the carry entering step t + 1, zeroed where a sequence restarts there;
    the output of step t is that carry before the reset, which the loop ``kept`` (H, B_reset).
    """
    if not kept:
        return hs_ext[1:]
    hs = hs_ext[1:].copy()
    for t, values in kept.items():
        hs[t][restarts[t + 1]] = values.T
    return hs


def chunk_steps(T: int, bytes_per_step: int, budget: int = 1 << 21) -> int:
    """Steps per block of whole-sequence elementwise work, so a block's arrays stay in cache."""
    return max(1, min(T, budget // max(bytes_per_step, 1)))


def block_steps(
    T: int, steps: int, row_bytes: int, B: int, *, rows: int = 4096, budget: int = 64 << 20
) -> int:
    """Steps per block of the stacked weight gradients: a multiple of ``steps``.

    Enough steps for about ``rows`` stacked rows, so each product stays efficient, but at
    most ``budget`` bytes of (steps, B, G*H) gradient rows (``row_bytes`` per row).
    """
    want = min(-(-rows // B), max(1, budget // max(B * row_bytes, 1)))
    return min(-(-T // steps), max(1, -(-want // steps))) * steps


TRANSPOSED_PRODUCT_H = 256
"""From this H on, a feature-major block's dW_h is computed in its (H, G*H) layout directly;
below, as (G*H, H) and added transposed. Measured on the benchmark machine (OpenBLAS,
SkylakeX kernel), per block: 59 against 90 ms at H=1024 (B=64, 50 steps), 16.1 against 20.0 ms
at H=512 and 1.34 against 1.18 ms at H=128 (B=32, 100 steps); 256 lies between."""


class StackedGrads:
    """``stacked_grads`` accumulated over blocks of steps, so dxp never exists whole.

    The backward kernels hand over (steps, B, G*H) blocks of dxp and dhp in any order; each
    adds its products to dW_x, dW_h and db and fills its rows of dxs (skipped, and dxs None,
    without ``input_grad``: a first layer whose inputs need no gradient).
    """

    def __init__(self, W_x: Array, xs: Array, hs_prev: Array, input_grad: bool = True) -> None:
        T, B, D = xs.shape
        GH = W_x.shape[1]
        H = hs_prev.shape[-1]
        self.W_x, self.xs, self.hs_prev = W_x, xs, hs_prev
        self.dW_x = np.zeros((D, GH), W_x.dtype)
        self.dW_h = np.zeros((H, GH), W_x.dtype)
        self.db = np.zeros(GH, W_x.dtype)
        self.dxs = np.empty((T, B, D), W_x.dtype) if input_grad else None

    def add(self, start: int, dxp: Array, dhp: Array) -> None:
        """Steps [start, start + len(dxp)): dxp and dhp (steps, B, G*H), views allowed."""
        stop = start + dxp.shape[0]
        rows = dxp.shape[0] * dxp.shape[1]
        dxp2 = dxp.reshape(rows, -1)  # (rows, G*H)
        dhp2 = dhp.reshape(rows, -1)
        D, H = self.dW_x.shape[0], self.dW_h.shape[0]
        self.dW_x += self.xs[start:stop].reshape(rows, D).T @ dxp2  # (D, G*H)
        self.dW_h += self.hs_prev[start:stop].reshape(rows, H).T @ dhp2  # (H, G*H)
        self.db += dxp2.sum(axis=0)
        if self.dxs is not None:
            np.matmul(dxp2, self.W_x.T, out=self.dxs[start:stop].reshape(rows, D))

    def add_feature_major(self, start: int, dxp: Array, dhp: Array) -> None:
        """Like ``add``, for blocks stored feature-major: dxp and dhp (G*H, steps * B)."""
        rows = dxp.shape[1]
        stop = start + rows // self.xs.shape[1]
        D, H = self.dW_x.shape[0], self.dW_h.shape[0]
        self.dW_x += (dxp @ self.xs[start:stop].reshape(rows, D)).T  # (D, G*H)
        hs_prev = self.hs_prev[start:stop].reshape(rows, H)
        if H >= TRANSPOSED_PRODUCT_H:  # H_prev^T dhp^T, in dW_h's own layout: no strided add
            self.dW_h += hs_prev.T @ dhp.T  # (H, G*H)
        else:
            self.dW_h += (dhp @ hs_prev).T  # (H, G*H)
        self.db += dxp.sum(axis=1)
        if self.dxs is not None:
            np.matmul(dxp.T, self.W_x.T, out=self.dxs[start:stop].reshape(rows, D))

    def result(self) -> tuple[Array, Array, Array, Array | None]:
        """(dW_x (D, G*H), dW_h (H, G*H), db (G*H,), dxs (T, B, D) or None without
        ``input_grad``)."""
        return self.dW_x, self.dW_h, self.db, self.dxs
