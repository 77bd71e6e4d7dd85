"""Argument checks shared by the data modules; each message names the argument and its value."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BpttTypeError(f"`{name}` must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise BpttError(f"`{name}` must be >= {minimum}, got {value}.")
    return int(value)


def check_positive_float(value: Any, name: str, hint: str = "") -> float:
    """Return ``value`` as a float, or raise unless it is a finite real number > 0."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and value > 0):
        raise BpttError(f"`{name}` must be a positive finite number, got {value!r}.{hint}")
    return float(value)


def check_rng(rng: Any) -> np.random.Generator:
    """Return ``rng``, or raise TypeError if it is not a ``np.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise BpttTypeError(
            f"`rng` must be a np.random.Generator, got {type(rng).__name__}. "
            "Create one with np.random.default_rng(seed)."
        )
    return rng


def check_ids(ids: Any, name: str) -> np.ndarray:
    """Return ``ids`` as a non-empty 1-D int64 array, or raise naming its dtype or shape."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise BpttTypeError(
            f"`{name}` must hold integer token ids, got dtype {arr.dtype}. "
            "Encode text with Vocabulary.encode first."
        )
    if arr.ndim != 1:
        raise BpttError(f"`{name}` must be 1-D (N,), got shape {arr.shape}.")
    if arr.size == 0:
        raise BpttError(f"`{name}` is empty; need at least one token id.")
    return arr.astype(np.int64, copy=False)
