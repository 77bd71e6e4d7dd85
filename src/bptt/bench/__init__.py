"""Benchmarks: bptt's RNN, LSTM and GRU against torch.nn.RNN / LSTM / GRU on the CPU.

Two programs are timed for every configuration (B, T, D, H) and cell, in float32
(``programs``):

    train   one training step: forward, a linear readout at every step (H -> O), MSE,
            backward through time (no gradient of the inputs xs, on either side), and an
            in-place SGD update of every parameter
    infer   the forward pass alone (recurrent layer and readout), no tape and no gradient

Both frameworks run in the same process with the same number of threads (BLAS threads for
NumPy, ``torch.set_num_threads`` for PyTorch) and are measured alternately (``timing``):
after a warm-up, each of ``repeats`` rounds times one run of bptt and one run of torch (the
order alternates between rounds), and each run is itself the median of several calls. The
reported time is the median of the runs, and the ratio bptt / torch is the median of the
per-round ratios, so a slow phase of the machine hits both sides of a ratio. Identical runs
spread by +-20% on a shared machine; only ratios measured this way mean much.

Achieved GFLOP/s counts the matrix products of the step (``step_flops``) and is given as a
fraction of a GEMM ceiling measured in the same run: a large float32 product through NumPy
(``environment``).

Each run also counts minor page faults per call. bptt allocates its tape and buffers afresh
at every call; glibc maps large blocks with mmap until the program frees one, then raises its
mmap and trim thresholds and reuses its heap. The GEMM ceiling, measured first, frees 16 MiB
arrays, so the timed calls run in that steady state (0 faults), as in any process that has
freed a large array; in a fresh process, small models can spend about half a step in faults.

Peak memory of one training step versus T is measured with tracemalloc for bptt (NumPy
reports its buffers to tracemalloc) and, for both frameworks, as the growth of the resident
set during one step in a fresh process (``memory``; PyTorch's CPU allocator is invisible to
tracemalloc).

Long sequences (``run_long``): the same training step at T = 10,000 with full BPTT and with
checkpointed BPTT under memory budgets (``Model.forward``'s ``memory_policy``), timed
alternately as above, with the peak memory of each and the ratios to full BPTT. The readout
is per step (``readout="all"``, as above) or of the last step alone (``readout="last"``: one
prediction per sequence and MSE against (B, O) targets, the usual long-sequence task); with
the latter, checkpointed BPTT keeps no (T, B, H) outputs.

Modules: ``sizes`` (what is measured), ``environment``, ``programs``, ``timing``, ``memory``
(with ``rss_child``, the fresh process), ``suite`` (``run_benchmarks``), ``long``
(``run_long``) and ``results`` (rows, tables, JSON).

Example::

    results = run_benchmarks([BenchConfig(32, 100, 64, 128)], ["lstm"], repeats=3)
    print(format_table(results))
    print(format_table(run_long(T=10_000, budgets=("sqrt", 50))))
"""

from bptt.bench.environment import blas_info, gemm_ceiling
from bptt.bench.long import run_long
from bptt.bench.programs import GATES, LEARNING_RATE, bptt_programs, step_flops, torch_programs
from bptt.bench.results import READOUT_TEXT, format_table, write_json
from bptt.bench.sizes import (
    CELLS,
    DEFAULT_SIZES,
    FULL,
    LONG_BUDGETS,
    LONG_CONFIG,
    LONG_READOUTS,
    MEMORY_CONFIG,
    MODES,
    BenchConfig,
    Budget,
    parse_budgets,
    parse_config,
)
from bptt.bench.suite import run_benchmarks
from bptt.bench.timing import CLOCKS

__all__ = [
    "CELLS",
    "CLOCKS",
    "DEFAULT_SIZES",
    "FULL",
    "GATES",
    "LEARNING_RATE",
    "LONG_BUDGETS",
    "LONG_CONFIG",
    "LONG_READOUTS",
    "MEMORY_CONFIG",
    "MODES",
    "READOUT_TEXT",
    "BenchConfig",
    "Budget",
    "blas_info",
    "bptt_programs",
    "format_table",
    "gemm_ceiling",
    "parse_budgets",
    "parse_config",
    "run_benchmarks",
    "run_long",
    "step_flops",
    "torch_programs",
    "write_json",
]
