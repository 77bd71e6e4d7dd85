"""Trains small runs under ``mpiexec -n W`` for tests/train/test_distributed.py.

    mpiexec -n W python tests/train/mpi_worker.py JOBS.json OUT.npz

JOBS.json maps a name to {"settings": a layer of TrainConfig settings, "dtype": "float64" or
"float32"}. Each job trains ``steps`` updates with the Trainer's loop (no files) from
parameters of that dtype; process 0 saves every job's parameters ("<name>/<param>"), its
validation loss ("<name>/valid_loss") and whether every process's state (parameters,
optimizer state, step, cursor, generator) was bitwise identical ("<name>/identical").
``train`` is also what the tests call in one process for the reference.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

from bptt.train.config import resolve_config
from bptt.train.distributed import current_world, state_digest
from bptt.train.state import init_state
from bptt.train.trainer import Trainer


def train(settings: dict, dtype: str, world=None) -> Trainer:
    """``settings`` trained for its steps in ``world`` (None: this process alone)."""
    config = resolve_config(settings)
    trainer = Trainer(config, stream=io.StringIO(), world=world)
    trainer.state = init_state(trainer.model, trainer.optimizer, config.seed, dtype=np.dtype(dtype))
    for _ in trainer.run_windows():
        pass
    return trainer


def main(jobs_path: str, out_path: str) -> None:
    world = current_world()
    assert world is not None, "run me under mpiexec -n W with W > 1"
    jobs = json.loads(Path(jobs_path).read_text(encoding="utf-8"))
    arrays = {}
    for name, job in jobs.items():
        trainer = train(job["settings"], job["dtype"], world)
        digests = world.comm.allgather(state_digest(trainer.state))
        arrays[f"{name}/identical"] = np.array(len(set(digests)) == 1)
        arrays[f"{name}/valid_loss"] = np.array(trainer.evaluate("valid")["loss"])
        for key, value in trainer.state.params.items():
            arrays[f"{name}/{key}"] = value
    if world.rank == 0:
        np.savez(out_path, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:])
