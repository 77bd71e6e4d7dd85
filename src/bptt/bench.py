"""Benchmarks: bptt's RNN, LSTM and GRU against torch.nn.RNN / LSTM / GRU on the CPU.

Two programs are timed for every configuration (B, T, D, H) and cell, in float32:

    train   one training step: forward, a linear readout at every step (H -> O), MSE,
            backward through time (no gradient of the inputs xs, on either side), and an
            in-place SGD update of every parameter
    infer   the forward pass alone (recurrent layer and readout), no tape and no gradient

Both frameworks run in the same process with the same number of threads (BLAS threads for
NumPy, ``torch.set_num_threads`` for PyTorch) and are measured alternately: after a warm-up,
each of ``repeats`` rounds times one run of bptt and one run of torch (the order alternates
between rounds), and each run is itself the median of several calls. The reported time is
the median of the runs, and the ratio bptt / torch is the median of the per-round ratios, so
a slow phase of the machine hits both sides of a ratio. Identical runs spread by +-20% on a
shared machine; only ratios measured this way mean much.

Achieved GFLOP/s counts the matrix products of the step (``step_flops``) and is given as a
fraction of a GEMM ceiling measured in the same run: a large float32 product through NumPy.

Each run also counts minor page faults per call. bptt allocates its tape and buffers afresh
at every call; glibc maps large blocks with mmap until the program frees one, then raises its
mmap and trim thresholds and reuses its heap. The GEMM ceiling, measured first, frees 16 MiB
arrays, so the timed calls run in that steady state (0 faults), as in any process that has
freed a large array; in a fresh process, small models can spend about half a step in faults.

Peak memory of one training step versus T is measured with tracemalloc for bptt (NumPy
reports its buffers to tracemalloc) and, for both frameworks, as the growth of the resident
set during one step in a fresh process (PyTorch's CPU allocator is invisible to tracemalloc).

Long sequences (``run_long``, issue 5 item 4): the same training step at T = 10,000 with full
BPTT and with checkpointed BPTT under memory budgets (``Model.forward``'s ``memory_policy``),
timed alternately as above, with the peak memory of each and the ratios to full BPTT. The
readout is per step (``readout="all"``, as above) or of the last step alone
(``readout="last"``: one prediction per sequence and MSE against (B, O) targets, the usual
long-sequence task); with the latter, checkpointed BPTT keeps no (T, B, H) outputs.

Example::

    results = run_benchmarks([BenchConfig(32, 100, 64, 128)], ["lstm"], repeats=3)
    print(format_table(results))
    print(format_table(run_long(T=10_000, budgets=("sqrt", 50))))
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import numpy as np

from bptt.cells import buffers
from bptt.engine.full import infer
from bptt.engine.schedule import make_plan, peak_slots, plan_cost
from bptt.errors import BpttError, MissingExtraError
from bptt.losses import mse
from bptt.model import Model, ModelConfig

CELLS = ("rnn", "lstm", "gru")
MODES = ("train", "infer")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LEARNING_RATE = 1e-3


class BenchConfig(NamedTuple):
    """One benchmark size: B sequences of T steps, D input features, H hidden units."""

    B: int
    T: int
    D: int
    H: int


ISSUE_CONFIGS = (
    BenchConfig(32, 100, 64, 32),
    BenchConfig(32, 100, 64, 128),
    BenchConfig(32, 100, 64, 256),
    BenchConfig(32, 100, 64, 512),
    BenchConfig(64, 200, 128, 1024),
    BenchConfig(8, 1000, 32, 128),
)
"""The sizes of issue 5, from tiny to the GEMM-bound (64, 200, 128, 1024)."""

MEMORY_CONFIG = BenchConfig(16, 0, 64, 256)
"""B, D and H of the memory-versus-T measurement (T comes from ``memory_steps``)."""

LONG_CONFIG = BenchConfig(16, 10_000, 64, 256)
"""The long-sequence measurement of issue 5 item 4: B = 16, T = 10,000, H = 256 (D = 64)."""

LONG_BUDGETS = ("sqrt", 50)
"""Checkpointing budgets of ``run_long``: "sqrt" and the cheapest plan within 50 slots."""

FULL = "full"
"""The policy label of full BPTT (every step's cache kept) in ``run_long``'s rows."""

LONG_READOUTS = ("all", "last")
"""Readouts of ``bptt_programs`` and ``run_long``: at every step, or of the last step alone."""

READOUT_TEXT = {"all": "per-step readout and MSE", "last": "readout and MSE of the last step"}
"""How ``format_table`` names each readout in a long table's heading."""

Budget = str | int
"""A checkpointing budget: "sqrt" or a number of slots m >= 1 (``engine.schedule``)."""


def parse_config(text: str) -> BenchConfig:
    """ "B,T,D,H" -> BenchConfig, e.g. "32,100,64,128"."""
    parts = text.replace("x", ",").split(",")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or min(values) < 1:
        raise BpttError(
            f"A benchmark configuration is four positive integers B,T,D,H, got {text!r} "
            "(for example 32,100,64,128)."
        )
    return BenchConfig(*values)


def step_flops(cell: str, config: BenchConfig, mode: str, output_size: int) -> int:
    """Floating-point operations of the matrix products in one step (2 per multiply-add).

    train: input projection, recurrent products and readout forward; the recurrent gradient
    dh_prev = dz W_h^T at every step, dW_h, dW_x, and the readout's dW and dhs backward.
    The input gradient dxs is not counted: PyTorch does not compute it for inputs that do not
    require gradients. infer: the forward products only.
    """
    B, T, D, H = config
    GH = GATES[cell] * H
    rows = T * B
    forward = 2 * rows * (D * GH + H * GH + H * output_size)
    if mode == "infer":
        return forward
    backward = 2 * rows * (H * GH + H * GH + D * GH + 2 * H * output_size)
    return forward + backward


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
def _threads(threads: int | None, include_torch: bool):
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


def _data(
    config: BenchConfig, output_size: int, seed: int, readout: str = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, B, D) and targets: (T, B, O) for readout "all", (B, O) for "last"."""
    B, T, D, _ = config
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, B, D), dtype=np.float32)  # (T, B, D)
    shape = (B, output_size) if readout == "last" else (T, B, output_size)
    ys = rng.standard_normal(shape, dtype=np.float32)  # (T, B, O) or (B, O)
    return xs, ys


def bptt_programs(
    cell: str,
    config: BenchConfig,
    output_size: int,
    seed: int = 0,
    *,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> dict[str, Callable[[], float]]:
    """The bptt programs {"train", "infer"} for one size; each call returns a loss or a sum.

    ``memory_policy`` goes to ``Model.forward`` in "train": None for full BPTT, or a
    checkpointing budget ("sqrt" or a number of slots) for checkpointed BPTT. ``readout``:
    "all" reads out every step and takes the MSE against (T, B, O) targets; "last" reads out
    the last step alone (``ModelConfig(readout="last")``, outputs (B, O)) against (B, O)
    targets, in "train" and "infer".
    """
    if readout not in LONG_READOUTS:
        raise BpttError(f"Unknown readout {readout!r}; expected one of {LONG_READOUTS}.")
    _, _, D, H = config
    model = Model(
        ModelConfig(
            cell=cell, input_size=D, hidden_size=H, output_size=output_size, readout=readout
        )
    )
    params = model.init(np.random.default_rng(seed), dtype=np.float32)
    xs, ys = _data(config, output_size, seed + 1, readout)
    cell_params = model.cell_params(params, "layers.0")
    W, b = params["readout.W"], params["readout.b"]

    def train() -> float:
        outputs, _, cache = model.forward(params, xs, train=True, memory_policy=memory_policy)
        loss, doutputs = mse(outputs, ys)
        # No gradient of xs, as for torch's xs without requires_grad.
        grads = model.backward(params, cache, doutputs, input_grad=False)[0]
        for name, p in params.items():
            p -= LEARNING_RATE * grads[name]  # in place, as torch.optim.SGD
        return loss

    def infer_() -> float:
        hs, _ = infer(model.cell, cell_params, xs)
        outputs = hs @ W  # (T, B, O)
        outputs += b
        return float(outputs[-1, 0, 0])

    def infer_last() -> float:
        hs, _ = infer(model.cell, cell_params, xs)
        outputs = hs[-1] @ W  # (B, O)
        outputs += b
        return float(outputs[0, 0])

    return {"train": train, "infer": infer_last if readout == "last" else infer_}


def torch_programs(
    cell: str, config: BenchConfig, output_size: int, seed: int = 0
) -> dict[str, Callable[[], float]]:
    """The same programs with torch.nn.RNN / LSTM / GRU, a Linear readout and torch.optim.SGD."""
    import torch

    _, _, D, H = config
    torch.manual_seed(seed)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    rnn = module(D, H)  # time-major, float32
    readout = torch.nn.Linear(H, output_size)
    optimizer = torch.optim.SGD([*rnn.parameters(), *readout.parameters()], lr=LEARNING_RATE)
    xs_np, ys_np = _data(config, output_size, seed + 1)
    xs, ys = torch.from_numpy(xs_np), torch.from_numpy(ys_np)

    def train() -> float:
        optimizer.zero_grad(set_to_none=True)
        hs, _ = rnn(xs)
        loss = torch.nn.functional.mse_loss(readout(hs), ys)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def infer_() -> float:
        with torch.inference_mode():
            outputs = readout(rnn(xs)[0])
        return float(outputs[-1, 0, 0])

    return {"train": train, "infer": infer_}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""wall: elapsed time. cpu: this process's CPU time, which foreign load on a shared machine
inflates far less; it adds up every thread, so it compares frameworks fairly only at 1 thread."""


def _minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _run(fn: Callable[[], Any], calls: int, clock: Callable[[], float]) -> tuple[float, float]:
    """One run: the median time of ``calls`` calls (s) and the minor page faults per call.

    Page faults show fresh memory being mapped: a process whose allocator has not yet raised
    its thresholds (glibc does after freeing a large block) pays for every first touch.
    """
    times = []
    faults = _minor_faults()
    for _ in range(calls):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times), (_minor_faults() - faults) / calls


def _calls_for(fn: Callable[[], Any], warmup: int, min_calls: int, run_seconds: float) -> int:
    """Warm ``fn`` up and choose the calls per run that fill about ``run_seconds``."""
    elapsed = 0.0
    for _ in range(max(warmup, 1)):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
    return max(min_calls, min(100, math.ceil(run_seconds / max(elapsed, 1e-6))))


def _time_pair(
    programs: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int,
    min_calls: int,
    run_seconds: float,
    clock: Callable[[], float],
) -> dict[str, list[tuple[float, float]]]:
    """Runs of every program, alternating between them: {name: [(seconds, faults), ...]}."""
    calls = {k: _calls_for(fn, warmup, min_calls, run_seconds) for k, fn in programs.items()}
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in programs}
    names = list(programs)
    for r in range(repeats):
        for k in names if r % 2 == 0 else names[::-1]:
            runs[k].append(_run(programs[k], calls[k], clock))
    return runs


def _bptt_tracemalloc_peak(
    cell: str,
    config: BenchConfig,
    output_size: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> int:
    """Peak bytes NumPy allocates during one bptt training step (after a warm-up step)."""
    programs = bptt_programs(
        cell, config, output_size, memory_policy=memory_policy, readout=readout
    )
    train = programs["train"]
    train()
    buffers.clear()  # the measured step allocates its arrays, not the warm-up's idle buffers
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        train()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


_RSS_CHILD = """
import sys
from bptt.bench import BenchConfig, _policy_from_label, _rss_child
print(_rss_child(sys.argv[1], sys.argv[2], BenchConfig(*map(int, sys.argv[3:7])), int(sys.argv[7]),
                 int(sys.argv[8]), _policy_from_label(sys.argv[9]), sys.argv[10]))
"""


def _policy_label(memory_policy: Budget | None) -> str:
    """The row label of a policy: "full" for None, else "sqrt" or the number of slots."""
    return FULL if memory_policy is None else str(memory_policy)


def _policy_from_label(label: str) -> Budget | None:
    """Inverse of ``_policy_label`` (the child process gets the policy as text)."""
    if label == FULL:
        return None
    return label if label == "sqrt" else int(label)


def _rss_child(
    framework: str,
    cell: str,
    config: BenchConfig,
    output_size: int,
    threads: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
):
    """In a fresh process: resident-set growth (bytes) over one training step.

    ``memory_policy`` and ``readout`` apply to bptt (torch's step reads out every step).
    A checkpointing plan is made before the baseline is read: ``engine.schedule`` caches it,
    so every step after the first reuses it, and its dynamic-programming tables are not part
    of a step.
    """
    small = config._replace(T=2)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        torch_programs(cell, small, output_size)["train"]()  # load kernels and the allocator
        train = torch_programs(cell, config, output_size)["train"]
    else:
        options = {"memory_policy": memory_policy, "readout": readout}
        bptt_programs(cell, small, output_size, **options)["train"]()
        if memory_policy is not None:
            make_plan(config.T, memory_policy)
        programs = bptt_programs(cell, config, output_size, **options)
        train = programs["train"]
    resident = _status_kib("VmRSS")
    train()
    # VmHWM is this process's own peak; ru_maxrss would include the parent's from before exec.
    return (_status_kib("VmHWM") - resident) * 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _rss_growth(
    framework: str,
    cell: str,
    config: BenchConfig,
    output_size: int,
    threads: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> int | None:
    """Run ``_rss_child`` in a fresh interpreter; None where that is not possible (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    args = [framework, cell, *map(str, config), str(output_size), str(threads)]
    args += [_policy_label(memory_policy), readout]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        return None
    return int(done.stdout.split()[-1])


def run_benchmarks(
    configs: Iterable[BenchConfig] = ISSUE_CONFIGS,
    cells: Sequence[str] = CELLS,
    *,
    repeats: int = 3,
    include_torch: bool = True,
    modes: Sequence[str] = MODES,
    threads: int | None = None,
    output_size: int | None = None,
    warmup: int = 2,
    min_calls: int = 3,
    run_seconds: float = 0.3,
    memory_steps: Sequence[int] = (250, 500, 1000),
    memory_config: BenchConfig = MEMORY_CONFIG,
    memory_rss: bool = True,
    clock: str = "wall",
    gemm_size: int = 2048,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time bptt (and torch) on every configuration, cell and mode; measure memory versus T.

    Args:
        configs: sizes (B, T, D, H); the issue's six by default.
        cells: any of "rnn", "lstm", "gru".
        repeats: runs per framework (>= 1); each run is the median of its calls.
        include_torch: also time torch.nn.* (needs torch); False reports bptt alone.
        modes: "train" and/or "infer".
        threads: BLAS and torch threads; None keeps NumPy's BLAS setting.
        output_size: O of the readout; D (predict the input features) when None.
        warmup: calls before timing, per program.
        min_calls, run_seconds: calls per run: at least ``min_calls``, about ``run_seconds``.
        memory_steps: the T values of the memory measurement (empty to skip it).
        memory_config: B, D and H of the memory measurement.
        memory_rss: also measure resident-set growth in fresh processes (slower).
        clock: "wall" (elapsed time) or "cpu" (process CPU time, robust to foreign load on a
            shared machine, but meaningful only with threads=1); see CLOCKS.
        gemm_size: n of the (n, n) x (n, n) product that measures the GEMM ceiling.
        progress: called with one line per finished measurement (e.g. ``print``).

    Returns:
        A list of dicts: one {"kind": "environment"} (versions, BLAS kernel, threads, GEMM
        ceiling), one {"kind": "time"} per configuration, cell and mode, and one
        {"kind": "memory"} per cell and T. Times are milliseconds.

    Raises:
        ValueError: an unknown cell, mode or clock, or repeats < 1.
        ImportError: include_torch=True without torch installed.
    """
    cells, modes = list(cells), list(modes)
    for c in cells:
        if c not in CELLS:
            raise BpttError(f"Unknown cell {c!r} for the benchmark; expected one of {CELLS}.")
    for m in modes:
        if m not in MODES:
            raise BpttError(f"Unknown mode {m!r}; expected one of {MODES}.")
    if repeats < 1:
        raise BpttError(f"`repeats` must be >= 1, got {repeats}.")
    if clock not in CLOCKS:
        raise BpttError(f"Unknown clock {clock!r}; expected one of {tuple(CLOCKS)}.")
    if include_torch:
        try:
            import torch
        except ImportError as error:
            raise MissingExtraError(
                "include_torch=True needs PyTorch: pip install torch, or run bptt alone "
                "(include_torch=False, `--no-torch`)."
            ) from error
    say = progress or (lambda line: None)
    results: list[dict[str, Any]] = []
    with _threads(threads, include_torch):
        env = _environment(threads, torch.__version__ if include_torch else None, clock)
        env["gemm_size"] = gemm_size
        blas, n_threads = env["blas"], env["threads"]
        ceilings = [gemm_ceiling(gemm_size)]
        results.append(env)
        say(f"GEMM ceiling {ceilings[0]:.1f} GFLOP/s, BLAS {blas.get('architecture')}")
        for config in configs:
            config = BenchConfig(*config)
            n_out = output_size or config.D
            for cell in cells:
                bptt = bptt_programs(cell, config, n_out)
                other = torch_programs(cell, config, n_out) if include_torch else {}
                for mode in modes:
                    programs = {"bptt": bptt[mode]}
                    if include_torch:
                        programs["torch"] = other[mode]
                    runs = _time_pair(
                        programs, repeats, warmup, min_calls, run_seconds, CLOCKS[clock]
                    )
                    row = _time_row(cell, mode, config, n_out, runs)
                    results.append(row)
                    say(_row_line(row))
        ceilings.append(gemm_ceiling(gemm_size))
        ceiling = statistics.median(ceilings)
        env["gemm_gflops"] = ceiling
        env["load_average_end"] = _load_average()
        env["gemm_gflops_runs"] = ceilings
        for row in results[1:]:
            for side in ("bptt", "torch"):
                if row.get(f"{side}_gflops") is not None:
                    row[f"{side}_ceiling_fraction"] = row[f"{side}_gflops"] / ceiling
        for cell in cells:
            for T in memory_steps:
                config = memory_config._replace(T=T)
                n_out = output_size or config.D
                row = {"kind": "memory", "cell": cell, **config._asdict(), "O": n_out}
                row["bptt_tracemalloc_mib"] = _bptt_tracemalloc_peak(cell, config, n_out) / 2**20
                for side in ("bptt", "torch") if include_torch else ("bptt",):
                    growth = (
                        _rss_growth(side, cell, config, n_out, n_threads) if memory_rss else None
                    )
                    row[f"{side}_rss_mib"] = None if growth is None else growth / 2**20
                results.append(row)
                say(
                    f"memory {cell} T={T}: bptt {row['bptt_tracemalloc_mib']:.1f} MiB (tracemalloc)"
                )
    return results


def _environment(threads: int | None, torch_version: str | None, clock: str) -> dict[str, Any]:
    """The {"kind": "environment"} row: versions, CPU, BLAS kernel and threads, load."""
    blas = blas_info()
    return {
        "kind": "environment",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": threads or blas.get("num_threads") or os.cpu_count() or 1,
        "clock": clock,
        "load_average": _load_average(),
        "blas": blas,
    }


def parse_budgets(text: str) -> tuple[Budget, ...]:
    """ "sqrt,50" -> ("sqrt", 50): checkpointing budgets for ``run_long``."""
    budgets: list[Budget] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "sqrt":
            budgets.append("sqrt")
        elif part.isdigit() and int(part) >= 1:
            budgets.append(int(part))
        else:
            raise BpttError(
                f"A checkpointing budget is 'sqrt' or a number of stored states >= 1, got "
                f"{part!r} in {text!r} (for example sqrt,50)."
            )
    return tuple(budgets)


def _check_budget(budget: Any) -> Budget:
    if budget == "sqrt" or (
        isinstance(budget, int | np.integer) and not isinstance(budget, bool) and budget >= 1
    ):
        return budget if isinstance(budget, str) else int(budget)
    raise BpttError(
        f"Unknown checkpointing budget {budget!r}; expected 'sqrt' or a number of stored "
        "states >= 1 (for example budgets=('sqrt', 50))."
    )


def run_long(
    T: int = LONG_CONFIG.T,
    B: int = LONG_CONFIG.B,
    D: int = LONG_CONFIG.D,
    H: int = LONG_CONFIG.H,
    cell: str = "lstm",
    budgets: Sequence[Budget] = LONG_BUDGETS,
    *,
    repeats: int = 3,
    threads: int | None = None,
    output_size: int | None = None,
    readout: str = "all",
    rss: bool = True,
    clock: str = "wall",
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Full versus checkpointed BPTT on one long sequence: time and peak memory of a step.

    The step is ``bptt_programs``' "train" (forward, linear readout of every step or of the
    last step, MSE, backward, SGD) in float32, with ``Model.forward(memory_policy=None)`` for
    full BPTT and with each budget for checkpointed BPTT. After one warm-up call each,
    ``repeats`` rounds time one call of every policy, the order alternating between rounds, so
    a slow phase of the machine hits full and checkpointed alike; the time is the median of the
    runs and the time ratio the median of the per-round ratios checkpointed / full. Peak memory
    is tracemalloc's peak of one step (NumPy's buffers, after a warm-up step) and the
    resident-set growth over one step in a fresh process; the memory ratios are full /
    checkpointed.

    Args:
        T, B, D, H: sequence length, batch, input features, hidden units (issue 5 item 4:
            T = 10,000, B = 16, H = 256).
        cell: "rnn", "lstm" or "gru".
        budgets: checkpointing budgets: "sqrt" (a carry every ceil(sqrt(T)) steps) or a
            number of slots m (the cheapest plan within m stored states, ``schedule.hsm_plan``).
        repeats: timed rounds (>= 1).
        threads: BLAS threads; None keeps NumPy's setting.
        output_size: O of the readout; D when None.
        readout: "all" (a prediction and its MSE at every step, targets (T, B, O)) or "last"
            (``ModelConfig(readout="last")``: one prediction per sequence from the final
            carry, targets (B, O); checkpointed BPTT then keeps no (T, B, H) outputs).
        rss: also measure resident-set growth in fresh processes (Linux only; else None).
        clock: "wall" or "cpu" (see CLOCKS).
        progress: called with one line per finished measurement (e.g. ``print``).

    Returns:
        One {"kind": "environment"} row, then one {"kind": "long"} row per policy ("full"
        first): readout, stored_states (T for full BPTT, else the plan's peak slots),
        step_evaluations (``step_forward`` calls of forward and backward: T, else
        ``plan_cost``), time_s and time_runs_s, time_ratio (None for full), tracemalloc_mib,
        rss_mib, memory_ratio and rss_ratio (full / this; 1.0 for full, None where RSS was not
        measured).

    Raises:
        ValueError: an unknown cell, clock, readout or budget, a size < 1 or repeats < 1.

    Example::

        print(format_table(run_long(T=10_000, budgets=("sqrt", 50), readout="last")))
    """
    if cell not in CELLS:
        raise BpttError(f"Unknown cell {cell!r} for the benchmark; expected one of {CELLS}.")
    if readout not in LONG_READOUTS:
        raise BpttError(f"Unknown readout {readout!r}; expected one of {LONG_READOUTS}.")
    for name, value in (("T", T), ("B", B), ("D", D), ("H", H), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise BpttError(f"`{name}` must be an integer >= 1, got {value!r}.")
    if clock not in CLOCKS:
        raise BpttError(f"Unknown clock {clock!r}; expected one of {tuple(CLOCKS)}.")
    policies: list[Budget | None] = [None, *(_check_budget(b) for b in budgets)]
    labels = [_policy_label(p) for p in policies]
    if len(set(labels)) != len(labels):
        raise BpttError(f"`budgets` repeats a policy: {list(budgets)!r}.")
    config = BenchConfig(B=int(B), T=int(T), D=int(D), H=int(H))
    n_out = output_size or config.D
    say = progress or (lambda line: None)
    results: list[dict[str, Any]] = []
    with _threads(threads, include_torch=False):
        env = _environment(threads, None, clock)
        env["load_average_end"] = None
        results.append(env)
        programs = {
            label: bptt_programs(cell, config, n_out, memory_policy=policy, readout=readout)[
                "train"
            ]
            for label, policy in zip(labels, policies, strict=True)
        }
        runs = _time_pair(programs, repeats, 1, 1, 0.0, CLOCKS[clock])
        del programs
        times = {label: [seconds for seconds, _ in r] for label, r in runs.items()}
        rows = []
        for label, policy in zip(labels, policies, strict=True):
            row: dict[str, Any] = {"kind": "long", "cell": cell, **config._asdict(), "O": n_out}
            row["readout"] = readout
            row["policy"] = label
            if policy is None:
                row["stored_states"] = row["step_evaluations"] = config.T
            else:
                plan = make_plan(config.T, policy)
                row["stored_states"] = peak_slots(plan)
                row["step_evaluations"] = plan_cost(plan)
            row["time_s"] = statistics.median(times[label])
            row["time_runs_s"] = times[label]
            ratios = [c / f for c, f in zip(times[label], times[FULL], strict=True)]
            row["time_ratio"] = None if policy is None else statistics.median(ratios)
            row["time_ratio_runs"] = None if policy is None else ratios
            peak = _bptt_tracemalloc_peak(cell, config, n_out, policy, readout)
            row["tracemalloc_mib"] = peak / 2**20
            growth = (
                _rss_growth("bptt", cell, config, n_out, env["threads"], policy, readout)
                if rss
                else None
            )
            row["rss_mib"] = None if growth is None else growth / 2**20
            rows.append(row)
            say(
                f"long {cell} T={config.T} readout={readout} {label}: {row['time_s']:.3f} s, "
                f"{row['tracemalloc_mib']:.1f} MiB (tracemalloc)"
            )
        full = rows[0]
        for row in rows:
            row["memory_ratio"] = _ratio(full["tracemalloc_mib"], row["tracemalloc_mib"])
            row["rss_ratio"] = _ratio(full["rss_mib"], row["rss_mib"])
        results.extend(rows)
        env["load_average_end"] = _load_average()
    return results


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: foreign load makes a run's times unreliable."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _time_row(
    cell: str,
    mode: str,
    config: BenchConfig,
    n_out: int,
    runs: dict[str, list[tuple[float, float]]],
) -> dict[str, Any]:
    flops = step_flops(cell, config, mode, n_out)
    row: dict[str, Any] = {"kind": "time", "cell": cell, "mode": mode, **config._asdict()}
    row["O"] = n_out
    row["gflop"] = flops / 1e9
    times = {side: [seconds for seconds, _ in r] for side, r in runs.items()}
    for side in ("bptt", "torch"):
        if side in runs:
            seconds = statistics.median(times[side])
            row[f"{side}_ms"] = seconds * 1e3
            row[f"{side}_runs_ms"] = [s * 1e3 for s in times[side]]
            row[f"{side}_gflops"] = flops / seconds / 1e9
            row[f"{side}_faults_per_call"] = statistics.median(f for _, f in runs[side])
        else:
            row[f"{side}_ms"] = row[f"{side}_runs_ms"] = row[f"{side}_gflops"] = None
            row[f"{side}_faults_per_call"] = None
    if "torch" in runs:
        ratios = [b / t for b, t in zip(times["bptt"], times["torch"], strict=True)]
        row["ratio"] = statistics.median(ratios)
        row["ratio_runs"] = ratios
    else:
        row["ratio"] = row["ratio_runs"] = None
    return row


def _row_line(row: dict[str, Any]) -> str:
    size = f"B={row['B']} T={row['T']} D={row['D']} H={row['H']}"
    text = f"{row['cell']:>4} {row['mode']:<5} {size}: bptt {row['bptt_ms']:.2f} ms"
    if row["ratio"] is not None:
        text += f", torch {row['torch_ms']:.2f} ms, ratio {row['ratio']:.2f}"
    return text


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown tables of ``run_benchmarks`` results: environment, times, memory versus T."""
    lines: list[str] = []
    for env in (r for r in results if r["kind"] == "environment"):
        blas = env["blas"]
        kernel = blas.get("architecture") or "unknown kernel"
        lines.append(
            f"numpy {env['numpy']} ({blas.get('internal_api', 'BLAS')} {blas.get('version', '')}"
            f", kernel {kernel}), torch {env['torch'] or 'not measured'}, {env['threads']} "
            f"threads, {env['processor']}, {env.get('clock', 'wall')} clock"
        )
        if env.get("load_average") is not None:
            lines.append(
                f"load average at start {env['load_average'][0]:.2f}"
                + (
                    f", at end {env['load_average_end'][0]:.2f}"
                    if env.get("load_average_end")
                    else ""
                )
                + f" (on {env['cpu_count']} CPUs)"
            )
        if env.get("gemm_gflops") is not None:
            runs = ", ".join(f"{g:.0f}" for g in env["gemm_gflops_runs"])
            n = env.get("gemm_size", 2048)
            lines.append(
                f"GEMM ceiling ({n}x{n} by {n}x{n} float32 through NumPy): "
                f"{env['gemm_gflops']:.0f} GFLOP/s (runs {runs})"
            )
        lines.append("")
    rows = [r for r in results if r["kind"] == "time"]
    if rows:
        lines.append(
            "| B | T | D | H | cell | mode | bptt ms | torch ms | bptt/torch | "
            "bptt GFLOP/s (% ceil) | torch GFLOP/s (% ceil) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            cells = [
                str(r["B"]),
                str(r["T"]),
                str(r["D"]),
                str(r["H"]),
                r["cell"],
                r["mode"],
                _fmt(r["bptt_ms"], ".2f"),
                _fmt(r["torch_ms"], ".2f"),
                _fmt(r["ratio"], ".2f"),
            ]
            for side in ("bptt", "torch"):
                gflops, frac = r[f"{side}_gflops"], r.get(f"{side}_ceiling_fraction")
                text = _fmt(gflops, ".1f")
                if gflops is not None and frac is not None:
                    text += f" ({100 * frac:.0f}%)"
                cells.append(text)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        faults = {
            side: [r[f"{side}_faults_per_call"] for r in rows if r.get(f"{side}_faults_per_call")]
            for side in ("bptt", "torch")
        }
        lines.append(
            "Minor page faults per call, largest over the rows: "
            + ", ".join(f"{side} {max(f, default=0):.0f}" for side, f in faults.items())
            + " (fresh memory mapped while timing; 0 once the allocator reuses its heap)."
        )
        lines.append("")
    memory = [r for r in results if r["kind"] == "memory"]
    if memory:
        lines.append(
            "Peak memory of one training step (MiB; tracemalloc = NumPy buffers, "
            "RSS = resident-set growth in a fresh process):"
        )
        lines.append("")
        lines.append("| cell | B | T | D | H | bptt tracemalloc | bptt RSS | torch RSS |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in memory:
            lines.append(
                f"| {r['cell']} | {r['B']} | {r['T']} | {r['D']} | {r['H']} | "
                f"{_fmt(r['bptt_tracemalloc_mib'], '.1f')} | {_fmt(r['bptt_rss_mib'], '.1f')} | "
                f"{_fmt(r.get('torch_rss_mib'), '.1f')} |"
            )
        lines.append("")
    long_rows = [r for r in results if r["kind"] == "long"]
    for (cell, B, T, D, H, readout), group in itertools.groupby(
        long_rows,
        key=lambda r: (r["cell"], r["B"], r["T"], r["D"], r["H"], r.get("readout", "all")),
    ):
        group = list(group)
        lines.append(
            f"Long sequences, one training step of {cell} with B={B}, T={T}, D={D}, H={H} "
            f"({READOUT_TEXT.get(readout, readout)}): "
            f"full versus checkpointed BPTT (time: median of {len(group[0]['time_runs_s'])} "
            "alternated runs; memory: tracemalloc peak = NumPy buffers, RSS = resident-set "
            "growth in a fresh process; ratios against full BPTT):"
        )
        lines.append("")
        lines.append(
            "| policy | stored states | step evaluations | time s | time / full | "
            "tracemalloc MiB | RSS MiB | full / this (tracemalloc) | full / this (RSS) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in group:
            evaluations = r.get("step_evaluations")
            lines.append(
                f"| {r['policy']} | {r['stored_states']} | "
                f"{'-' if evaluations is None else evaluations} | {r['time_s']:.3f} | "
                f"{_fmt(r['time_ratio'], '.2f')} | {r['tracemalloc_mib']:.1f} | "
                f"{_fmt(r['rss_mib'], '.1f')} | {_fmt(r['memory_ratio'], '.1f')} | "
                f"{_fmt(r['rss_ratio'], '.1f')} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_json(results: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write the results as indented JSON (plain floats, ints, strings and None)."""
    with open(path, "w") as f:
        json.dump(list(results), f, indent=2)
        f.write("\n")
