"""Peak memory of one training step: tracemalloc for bptt, resident-set growth for both.

NumPy reports its buffers to tracemalloc, so bptt's peak is measured in this process.
PyTorch's CPU allocator is invisible to tracemalloc, and a process's resident-set peak never
comes down, so the growth over one step is measured in a fresh interpreter
(``python -m bptt.bench.rss_child``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

from bptt.bench.programs import bench_model, clear_workspace, model_programs
from bptt.bench.sizes import BenchConfig, Budget, policy_label


def tracemalloc_peak(
    cell: str,
    config: BenchConfig,
    output_size: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> int:
    """Peak bytes NumPy allocates during one bptt training step (after a warm-up step)."""
    model = bench_model(cell, config, output_size, readout)
    train = model_programs(model, config, memory_policy=memory_policy)["train"]
    train()
    clear_workspace(model)  # the measured step allocates its arrays, not the warm-up's idle ones
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        train()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


def rss_growth(
    framework: str,
    cell: str,
    config: BenchConfig,
    output_size: int,
    threads: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> int | None:
    """Resident-set growth (bytes) over one training step of ``framework`` ("bptt" or "torch"),
    measured in a fresh interpreter; None where that is not possible (not Linux) or fails.

    ``memory_policy`` and ``readout`` apply to bptt (torch's step reads out every step).
    """
    if not sys.platform.startswith("linux"):
        return None
    args = ["--framework", framework, "--cell", cell, "--config", ",".join(map(str, config))]
    args += ["--output-size", str(output_size), "--threads", str(threads)]
    args += ["--policy", policy_label(memory_policy), "--readout", readout]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-m", "bptt.bench.rss_child", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        return None
    return int(done.stdout.split()[-1])
