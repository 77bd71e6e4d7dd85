"""Input checks, run once where a sequence enters, never inside the per-step loop.

Every message says what was wrong, what was expected and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError
from bptt.types import CELL_METHODS, Array, Cell, CellParams

FLOAT_DTYPES = (np.float32, np.float64)


def check_cell(cell: Any) -> None:
    """Raise BpttTypeError for an object that does not follow the Cell protocol."""
    needed = ("name", "params_type", "carry_type", *CELL_METHODS[1:])  # all but init_params
    missing = [name for name in needed if not hasattr(cell, name)]
    if missing:
        raise BpttTypeError(
            f"`cell` ({type(cell).__name__}) lacks {missing}; a cell follows the Cell protocol "
            "of bptt.types: name, params_type, carry_type, " + ", ".join(CELL_METHODS) + "."
        )


def check_params(cell: Cell, params: Any) -> tuple[int, int, np.dtype]:
    """Check that ``params`` belong to ``cell`` and are consistent; return (D, H, dtype).

    Raises:
        BpttTypeError: not a cell, params of another cell type, or arrays of mixed or
            non-float dtypes.
        BpttError: weight shapes that do not fit together (the cell's ``sizes`` says).
    """
    check_cell(cell)
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
    D, H = cell.sizes(params)
    return D, H, next(iter(dtypes))


def check_forward(
    cell: Cell,
    params: CellParams,
    xs: Any,
    carry0: Any,
    mask: Any,
    resets: Any,
    *,
    finite: bool,
) -> tuple[Array, Any, np.ndarray | None, np.ndarray | None]:
    """Every check of a forward pass, made once where a sequence enters the engine.

    ``finite`` scans ``xs`` and ``carry0`` for NaN/Inf: True for values from a user, False for
    values a caller has checked or produced (a model's inner layers, a replayed segment), so
    that values which become non-finite inside a model propagate and are counted by the
    trainer, on the full and the checkpointed path alike.

    Returns:
        (xs, carry0, mask, resets) ready for the loop: xs C-contiguous in the parameters'
        dtype, a zero carry0 when None, an all-True mask and an all-False resets as None.
    """
    D, H, dtype = check_params(cell, params)
    xs = check_sequence(xs, D, dtype, finite=finite)
    T, B, _ = xs.shape
    mask = check_mask(mask, T, B)
    if mask is not None and mask.all():
        mask = None  # every step valid: the same as no mask
    resets = check_mask(resets, T, B, name="resets")
    if resets is not None and not resets.any():
        resets = None
    if carry0 is None:
        carry = zero_carry(cell, B, H, dtype)
    else:
        carry = check_carry(cell, carry0, B, H, dtype, name="carry0", finite=finite)
    return xs, carry, mask, resets


def check_sequence(
    xs: Any, input_size: int, dtype: np.dtype, *, name: str = "xs", finite: bool = True
) -> Array:
    """Check a (T, B, D) float sequence; return it as a C-contiguous array of ``dtype``.

    ``finite=False`` skips the NaN/Inf scan, for values a caller has already checked."""
    xs = np.asarray(xs)
    if xs.dtype.kind in "iub":
        raise BpttTypeError(
            f"`{name}` has dtype {xs.dtype} but a float (T, B, D) sequence is expected. "
            "Token ids go through an embedding: build Model(vocab_size=...) or one-hot encode."
        )
    if xs.dtype.kind != "f":
        raise BpttTypeError(f"`{name}` has dtype {xs.dtype}; expected float32 or float64.")
    if xs.ndim != 3:
        raise BpttError(
            f"`{name}` must be time-major with shape (T, B, D), got shape {xs.shape}. "
            "Add the missing axis (e.g. xs[:, None, :] for one sequence) or transpose "
            "batch-first data with xs.transpose(1, 0, 2)."
        )
    T, B, D = xs.shape
    if T == 0 or B == 0:
        raise BpttError(
            f"`{name}` is empty (T={T}, B={B}, shape={xs.shape}); need at least one step "
            "and one sequence."
        )
    if input_size != D:
        raise BpttError(
            f"`{name}` has {D} features but the parameters expect D={input_size} "
            f"({name}.shape={xs.shape}). Build the model with input_size={D}, or encode the "
            "data with the model's vocabulary."
        )
    if finite:
        check_finite(xs, name)
        check_representable(xs, dtype, name)
    return np.ascontiguousarray(xs, dtype=dtype)


def check_representable(a: Array, dtype: np.dtype, name: str) -> None:
    """Raise ValueError when casting ``a`` to ``dtype`` would overflow to Inf."""
    limit = np.finfo(dtype).max
    if a.dtype.itemsize > np.dtype(dtype).itemsize and np.abs(a).max(initial=0) > limit:
        raise BpttError(
            f"`{name}` holds values up to {np.abs(a).max():.3g}, beyond {np.dtype(dtype)}'s "
            f"range ({limit:.3g}) of the parameters. Rescale the data or use float64 parameters."
        )


def check_finite(a: Array, name: str) -> None:
    """Raise ValueError naming the first NaN or Inf entry of ``a``."""
    if not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise BpttError(
            f"`{name}` contains NaN or Inf (first at index {where}: {a[where]}). "
            "Clean or impute the data before training."
        )


def check_mask(mask: Any, T: int, B: int, *, name: str = "mask") -> np.ndarray | None:
    """Check a (T, B) array of booleans (or 0/1 values); return it as bool, or None."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != (T, B):
        raise BpttError(
            f"`{name}` has shape {mask.shape} but the sequence needs (T, B) = ({T}, {B}). "
            "Build it time-major, one column per sequence."
        )
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            bad = mask[~np.isin(mask, (0, 1))][:3] if mask.dtype.kind in "iuf" else mask.flat[:3]
            raise BpttTypeError(
                f"`{name}` must hold booleans (True or False per step and sequence), got "
                f"dtype {mask.dtype} with values such as {bad}. For variable lengths use "
                "bptt.data.lengths_to_mask(lengths, T)."
            )
        mask = mask.astype(bool)
    return mask


def check_carry(
    cell: Any, carry: Any, B: int, H: int, dtype: np.dtype, *, name: str, finite: bool = True
) -> Any:
    """Check a carry for ``cell``: the right NamedTuple of (B, H) arrays; cast to ``dtype``."""
    carry_type = cell.carry_type
    if not isinstance(carry, carry_type):
        raise BpttTypeError(
            f"`{name}` is {type(carry).__name__} but the {cell.name} cell expects "
            f"{carry_type.__name__}{carry_type._fields}: build it as "
            f"{carry_type.__name__}(*arrays) of (B, H) = ({B}, {H}) arrays."
        )
    fields = []
    for field, value in zip(carry_type._fields, carry, strict=True):
        value = np.asarray(value)
        if value.dtype.kind not in "iuf":
            raise BpttTypeError(f"`{name}.{field}` has dtype {value.dtype}; expected floats.")
        if value.shape != (B, H):
            raise BpttError(
                f"`{name}.{field}` has shape {value.shape}, expected (B, H) = ({B}, {H})."
            )
        if finite:
            check_finite(value, f"{name}.{field}")
            check_representable(value, dtype, f"{name}.{field}")
        value = np.asarray(value, dtype=dtype)
        fields.append(value)
    return carry_type(*fields)


def zero_carry(cell: Any, batch_size: int, hidden_size: int, dtype: Any) -> Any:
    """The all-zero carry of ``cell`` for a batch: every field (B, H)."""
    shape = (batch_size, hidden_size)
    return cell.carry_type(*(np.zeros(shape, dtype=dtype) for _ in cell.carry_type._fields))


def check_backward(
    cell: Any, params: Any, xs: Array, H_tape: int, dhs: Any
) -> tuple[int, int, np.dtype, Array | None]:
    """The checks every backward pass makes before any work: ``params`` fit the tape, which
    recorded inputs ``xs`` (T, B, D) and H hidden units, and ``dhs`` is None or (T, B, H)
    floats. Gradients are not scanned for NaN/Inf: like values inside a model, a non-finite
    gradient propagates, and the trainer counts it.

    Returns:
        (D, H, dtype, dhs cast to dtype or None).
    """
    T, B, D_tape = xs.shape
    D, H, dtype = check_params(cell, params)
    if (D, H, dtype) != (D_tape, H_tape, xs.dtype):
        raise BpttError(
            f"`params` (D={D}, H={H}, {dtype}) do not fit the tape, recorded with D={D_tape}, "
            f"H={H_tape}, {xs.dtype}. Pass the same parameters to forward and backward."
        )
    if dhs is None:
        return D, H, dtype, None
    dhs = np.asarray(dhs)
    if dhs.dtype.kind not in "iuf":
        raise BpttTypeError(f"`dhs` has dtype {dhs.dtype}; expected floats.")
    if dhs.shape != (T, B, H):
        raise BpttError(f"`dhs` has shape {dhs.shape}, expected (T, B, H) = {(T, B, H)}.")
    return D, H, dtype, np.asarray(dhs, dtype=dtype)
