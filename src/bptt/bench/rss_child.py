"""The resident-set growth of one training step, measured in a fresh interpreter.

    python -m bptt.bench.rss_child --framework bptt --cell lstm --config 16,1000,64,256 \\
        --output-size 64 --threads 1 --policy sqrt --readout all

prints the growth in bytes. ``bptt.bench.memory.rss_growth`` runs it: only a process that
has run nothing else shows a step's growth (PyTorch's CPU allocator is invisible to
tracemalloc, and a process's peak never comes down).
"""

from __future__ import annotations

import argparse
import sys

from bptt.bench.programs import Program, bptt_programs, torch_programs
from bptt.bench.sizes import (
    CELLS,
    LONG_READOUTS,
    BenchConfig,
    Budget,
    parse_config,
    policy_from_label,
)
from bptt.engine.plan import make_plan


def step_growth(
    framework: str,
    cell: str,
    config: BenchConfig,
    output_size: int,
    threads: int,
    memory_policy: Budget | None = None,
    readout: str = "all",
) -> int:
    """Resident-set growth (bytes) over one training step; run it in a fresh process.

    ``memory_policy`` and ``readout`` apply to bptt (torch's step reads out every step).
    A checkpointing plan is made before the baseline is read: ``engine.plan`` caches it,
    so every step after the first reuses it, and its dynamic-programming tables are not part
    of a step.
    """
    train = _warm_train(framework, cell, config, output_size, threads, memory_policy, readout)
    resident = status_kib("VmRSS")
    train()
    # VmHWM is this process's own peak; ru_maxrss would include the parent's from before exec.
    return (status_kib("VmHWM") - resident) * 1024


def _warm_train(
    framework: str,
    cell: str,
    config: BenchConfig,
    output_size: int,
    threads: int,
    memory_policy: Budget | None,
    readout: str,
) -> Program:
    """The training step at ``config``, after a step at T = 2 has loaded kernels and allocator."""
    small = config._replace(T=2)
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        torch_programs(cell, small, output_size)["train"]()
        return torch_programs(cell, config, output_size)["train"]
    options = {"memory_policy": memory_policy, "readout": readout}
    bptt_programs(cell, small, output_size, **options)["train"]()
    if memory_policy is not None:
        make_plan(config.T, memory_policy)
    return bptt_programs(cell, config, output_size, **options)["train"]


def status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB, e.g. "VmRSS" (resident) or "VmHWM" (its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bptt.bench.rss_child", description=__doc__.split("\n\n")[0]
    )
    add = parser.add_argument
    add("--framework", choices=("bptt", "torch"), required=True)
    add("--cell", choices=CELLS, required=True)
    add("--config", type=parse_config, required=True, help="B,T,D,H")
    add("--output-size", type=int, required=True, help="O of the readout")
    add("--threads", type=int, required=True, help="BLAS and torch threads")
    add("--policy", type=policy_from_label, default=None, help="full, sqrt or a number of slots")
    add("--readout", choices=LONG_READOUTS, default="all")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    growth = step_growth(
        args.framework,
        args.cell,
        args.config,
        args.output_size,
        args.threads,
        args.policy,
        args.readout,
    )
    print(growth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
