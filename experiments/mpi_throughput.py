"""Data-parallel throughput on this machine: 1 process with 2 BLAS threads against 2
processes with 1 BLAS thread each, on the same run (model, batch, data, BPTT window); 1
process with 1 thread as the reference of one core.

    python experiments/mpi_throughput.py                       both models, 3 rounds each
    nice python experiments/mpi_throughput.py --models default --rounds 5 --updates 400

The script launches itself as the worker: ``OPENBLAS_NUM_THREADS=2 python ... --worker``,
``OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python ... --worker`` and ``OPENBLAS_NUM_THREADS=1
python ... --worker``, in reversed order every other round. A worker builds the Trainer of
the model (Shakespeare, B = 32 streams, BPTT(50, 50), float32, Adam, clip 5), trains
``--warmup`` windows, then times ``--updates`` windows between two barriers: updates per
second. Under MPI it also records the time spent in ``World.combine`` (the Allreduce,
including the wait for the slower process) and the time of the Allreduce of a buffer of the
model's size alone (median of 30). One JSON line per run goes to
experiments/results/mpi_throughput.jsonl; the table is printed (medians over rounds).

``--table-only`` prints the table of the recorded runs and the model of scaling past one
machine (``scaling``): on paper, from the measured single-core time per update.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
RESULTS = HERE.parent / "results" / "mpi_throughput.jsonl"
MODELS = {
    "default": {"hidden_size": 128},  # `bptt train`'s model: LSTM 1x128, embed 64
    "H1024": {"hidden_size": 1024},
}
UPDATES = {"default": 200, "H1024": 20}
"""Timed updates per run when --updates is not given (a few seconds of each)."""


def worker(model: str, warmup: int, updates: int, out: str) -> None:
    from bptt.train.config import resolve_config
    from bptt.train.shard import layout
    from bptt.train.trainer import Trainer

    settings = {**MODELS[model], "steps": warmup + updates + 1, "out": out, "sample_length": 0}
    trainer = Trainer(resolve_config(settings), stream=io.StringIO())
    world = trainer.world
    in_combine = [0.0]
    if world is not None:
        combine = world.combine

        def timed(*args):
            t = time.perf_counter()
            value = combine(*args)
            in_combine[0] += time.perf_counter() - t
            return value

        world.combine = timed
    windows = trainer.run_windows()
    for _ in range(warmup):
        next(windows)
    if world is not None:
        world.comm.Barrier()
    in_combine[0] = 0.0
    t0 = time.perf_counter()
    for _ in range(updates):
        next(windows)
    if world is not None:
        world.comm.Barrier()
    seconds = time.perf_counter() - t0
    params = trainer.state.params
    row = {
        "model": model,
        "parameters": int(sum(p.size for p in params.values())),
        "processes": 1 if world is None else world.size,
        "blas_threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
        "updates": updates,
        "seconds": seconds,
        "updates_per_s": updates / seconds,
        "combine_s_per_update": in_combine[0] / updates,
    }
    if world is not None:
        from mpi4py import MPI

        buf = np.zeros(layout(params).size, dtype=np.float32)
        times = []
        for _ in range(30):
            world.comm.Barrier()
            t = time.perf_counter()
            world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        row["allreduce_s"] = statistics.median(times)
        row["buffer_bytes"] = int(buf.nbytes)
        if world.rank != 0:
            return
    print(json.dumps(row), flush=True)


def launch(model: str, processes: int, threads: int, args: argparse.Namespace, out: Path) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    command = [sys.executable, str(HERE), "--worker", model, "--warmup", str(args.warmup)]
    updates = args.updates or UPDATES[model]
    command += ["--updates", str(updates), "--out", str(out)]
    if processes > 1:
        beside = Path(sys.executable).parent / "mpiexec"
        mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
        command = [mpiexec, "-n", str(processes), *command]
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--updates", type=int, help="timed updates (200 default, 20 H1024)")
    parser.add_argument("--work", default="runs/mpi_throughput")
    parser.add_argument("--table-only", action="store_true", help="tables of recorded runs")
    parser.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.warmup, args.updates, args.out)
        return
    if args.table_only:
        recorded = [json.loads(line) for line in RESULTS.read_text().splitlines() if line]
        print(table(recorded) + "\n\n" + scaling(recorded))
        return
    machine = f"{platform.machine()}, {os.cpu_count()} cores (shared), Python"
    machine += f" {platform.python_version()}"
    rows = []
    for model in args.models:
        for r in range(args.rounds):
            variants = [(1, 2), (2, 1), (1, 1)]
            for processes, threads in variants if r % 2 == 0 else variants[::-1]:
                row = launch(model, processes, threads, args, Path(args.work) / model)
                row.update(round=r, machine=machine, date=time.strftime("%Y-%m-%d %H:%M"))
                rows.append(row)
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                with open(RESULTS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), file=sys.stderr, flush=True)
    print(table(rows) + "\n\n" + scaling(rows))


NETWORKS = {"10 Gbit/s Ethernet": (10e9 / 8, 25e-6), "100 Gbit/s RDMA": (100e9 / 8, 2e-6)}
"""Network -> (bytes per second of a link, latency per message in seconds): assumptions."""


def allreduce_seconds(nbytes: int, W: int, bandwidth: float, latency: float) -> float:
    """Rabenseifner's Allreduce (reduce-scatter then allgather, MPICH's choice for long
    messages; Thakur, Rabenseifner & Gropp 2005): 2 log2(W) latencies, and each process
    sends and receives 2 (W - 1) / W of the buffer."""
    return 2 * np.log2(W) * latency + 2 * (W - 1) / W * nbytes / bandwidth


def scaling(rows: list[dict], batch: int = 32) -> str:
    """When communication would dominate: the smallest W with Allreduce >= compute / W."""
    lines = [
        "| model | buffer | one core: s/update | network | Allreduce at W=2 / 8 / 32 (ms) "
        "| compute at W=2 / 8 / 32 (ms) | W where Allreduce >= compute |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        single = [
            r["seconds"] / r["updates"]
            for r in rows
            if r["model"] == model and (r["processes"], r["blas_threads"]) == (1, 1)
        ]
        buffer = next(
            r["buffer_bytes"] for r in rows if r["model"] == model and "buffer_bytes" in r
        )
        t1 = statistics.median(single)
        for name, (bandwidth, latency) in NETWORKS.items():
            comm = [allreduce_seconds(buffer, W, bandwidth, latency) * 1e3 for W in (2, 8, 32)]
            compute = [t1 / W * 1e3 for W in (2, 8, 32)]
            crossing = next(
                (
                    W
                    for W in range(2, 100_000)
                    if allreduce_seconds(buffer, W, bandwidth, latency) >= t1 / W
                ),
                None,
            )
            where = f"{crossing}" + (
                f" (> B = {batch}: not reachable)" if crossing and crossing > batch else ""
            )
            lines.append(
                f"| {model} | {buffer / 1e6:.2f} MB | {t1:.4f} | {name} "
                f"| {' / '.join(f'{c:.2f}' for c in comm)} "
                f"| {' / '.join(f'{c:.2f}' for c in compute)} | {where} |"
            )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| model | parameters | 1 process x 2 threads (upd/s) | 2 processes x 1 thread (upd/s) "
        "| 2 processes / 1 process | 1 process x 1 thread (upd/s) | Allreduce in a step (ms) "
        "| Allreduce alone (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def rate(model: str, processes: int, threads: int) -> tuple[float, str]:
        r = [
            x["updates_per_s"]
            for x in rows
            if (x["model"], x["processes"], x["blas_threads"]) == (model, processes, threads)
        ]
        return statistics.median(r), f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"

    for model in dict.fromkeys(r["model"] for r in rows):
        a, one = rate(model, 1, 2)
        b, two = rate(model, 2, 1)
        _, single = rate(model, 1, 1)
        parallel = [r for r in rows if r["model"] == model and r["processes"] == 2]
        combine = statistics.median(r["combine_s_per_update"] for r in parallel) * 1e3
        alone = statistics.median(r["allreduce_s"] for r in parallel) * 1e3
        lines.append(
            f"| {model} | {parallel[0]['parameters']:,} | {one} | {two} | {b / a:.2f} "
            f"| {single} | {combine:.2f} | {alone:.3f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
