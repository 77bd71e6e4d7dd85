"""The machine a benchmark runs on: BLAS kernel and threads, CPU, load, and the GEMM ceiling."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS library, kernel and threads as threadpoolctl reports them (if installed)."""
    info: dict[str, Any] = {
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpoolctl"] = "not installed: pip install threadpoolctl to report the kernel"
        return info
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    # Other packages (scipy) may load a BLAS of their own: report NumPy's.
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    blas.sort(key=lambda p: not str(p.get("filepath", "")).startswith(numpy_dir + os.sep + "numpy"))
    if blas:
        lib = blas[0]
        for key in ("internal_api", "version", "architecture", "num_threads", "threading_layer"):
            info[key] = lib.get(key)
    return info


@contextmanager
def thread_limits(threads: int | None, include_torch: bool) -> Iterator[None]:
    """Limit NumPy's BLAS (threadpoolctl, when installed) and torch to ``threads`` threads."""
    with ExitStack() as stack:
        if threads is not None:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                pass
            else:
                stack.enter_context(threadpool_limits(threads, user_api="blas"))
        old = None
        if include_torch:
            import torch

            old = torch.get_num_threads()
            torch.set_num_threads(threads or blas_info().get("num_threads") or os.cpu_count() or 1)
        try:
            yield
        finally:
            if old is not None:
                import torch

                torch.set_num_threads(old)


def gemm_ceiling(size: int = 2048, calls: int = 5) -> float:
    """GFLOP/s of a (size, size) x (size, size) float32 product through NumPy, median of calls."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2.0 * size**3 / statistics.median(times) / 1e9


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: foreign load makes a run's times unreliable."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment_row(threads: int | None, torch_version: str | None, clock: str) -> dict[str, Any]:
    """The {"kind": "environment"} row: versions, CPU, BLAS kernel and threads, load."""
    blas = blas_info()
    return {
        "kind": "environment",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "machine": platform.machine(),
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": threads or blas.get("num_threads") or os.cpu_count() or 1,
        "clock": clock,
        "load_average": load_average(),
        "blas": blas,
    }
