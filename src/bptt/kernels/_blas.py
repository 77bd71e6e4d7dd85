"""NumPy's own BLAS ``cblas_sgemm`` as a ctypes function, for the compiled LSTM loops.

NumPy's wheels ship OpenBLAS as ``libscipy_openblas64_`` with prefixed, 64-bit-integer
symbols. Calling its ``scipy_cblas_sgemm64_`` from compiled code uses the very library (and
thread pool) that ``np.matmul`` uses, without returning to Python at every step. A NumPy
built against another BLAS has no such library: ``SGEMM`` is then None and the loops run in
Python, calling ``np.matmul``.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

ROW_MAJOR, NO_TRANS = 101, 111
SYMBOL = "scipy_cblas_sgemm64_"


def _find() -> ctypes._CFuncPtr | None:
    root = os.path.dirname(np.__file__)
    patterns = ("../numpy.libs/libscipy_openblas64_*", ".dylibs/libscipy_openblas64_*")
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            try:
                function = getattr(ctypes.CDLL(path), SYMBOL)
            except (OSError, AttributeError):
                continue
            i64, f32, ptr, enum = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_int
            function.argtypes = [enum, enum, enum, i64, i64, i64, f32, ptr, i64, ptr, i64, f32]
            function.argtypes += [ptr, i64]
            function.restype = None
            return function
    return None


SGEMM = _find()
"""cblas_sgemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)."""
