"""SIGKILL `bptt train` at random moments, resume it each time, and check what survives.

    python experiments/kill_resume.py --kills 100          the figure in docs/reliability.md

Each kill lands at a uniformly random moment of a process's life (start-up, data loading,
an update, an evaluation, the middle of a checkpoint write). After every kill the run goes
on with `bptt train --resume OUT` (or starts again when no checkpoint was written yet) until
one process finishes. At the end: the final parameters must equal, bit for bit, those of an
uninterrupted run; no temporary file may be left; metrics.jsonl must hold every step's
record once; every checkpoint must load.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bptt.data.shakespeare import load_plays
from bptt.train.checkpoint import list_checkpoints, load_checkpoint

ENTRY = "import sys; from bptt.cli import main; sys.exit(main(sys.argv[1:]))"
STEPS = 300
SETTINGS = ["--hidden", "16", "--embed", "8", "--batch", "4", "--bptt", "8"]
SETTINGS += ["--steps", str(STEPS), "--checkpoint-every", "5", "--eval-every", "60"]
SETTINGS += ["--log-every", "1", "--sample-length", "0", "--keep", "2"]


def _command(text: Path, out: Path) -> list[str]:
    if list_checkpoints(out / "checkpoints"):
        return [sys.executable, "-c", ENTRY, "train", "--resume", str(out)]
    return [sys.executable, "-c", ENTRY, "train", "--text", str(text), "--out", str(out), *SETTINGS]


def _run(command: list[str], kill_after: float | None) -> int:
    """Run ``command``; SIGKILL it after ``kill_after`` seconds (None: let it finish)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return -9
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {proc.stderr.read().decode()[-500:]}")
    return 0


def params_of(out: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(out).params


def kill_and_resume(root: Path, kills: int, seed: int = 0) -> dict:
    """``kills`` SIGKILLs of one run in ``root``, then the checks; returns a report."""
    rng = random.Random(seed)
    text = root / "play.txt"
    text.write_text(load_plays()[0].text[:5000], encoding="utf-8")
    reference = root / "reference"
    start = time.perf_counter()
    _run(_command(text, reference), None)
    life = time.perf_counter() - start  # one whole run, start-up included
    out = root / "killed"
    outcomes: Counter = Counter()
    done = 0
    while done < kills:
        step = _step(out)
        code = _run(_command(text, out), rng.uniform(0.0, life))
        if code == -9:
            done += 1
            outcomes["before the first checkpoint" if step is None else "during a resume"] += 1
        elif _step(out) >= STEPS:
            # The run finished before the kill: start again from a random earlier checkpoint.
            outcomes["finished first"] += 1
            _rewind(out, rng)
    while _step(out) is None or _step(out) < STEPS:
        _run(_command(text, out), None)
    return _checks(reference, out, kills, outcomes, life)


def _step(out: Path) -> int | None:
    found = list_checkpoints(out / "checkpoints")
    return None if not found else load_checkpoint(found[-1]).meta["step"]


def _rewind(out: Path, rng: random.Random) -> None:
    """Drop the run's newest checkpoints (not its first), so that the next process has work
    to be killed in."""
    found = list_checkpoints(out / "checkpoints")
    for path in found[rng.randrange(1, len(found)) :] if len(found) > 1 else []:
        path.unlink()


def _checks(reference: Path, out: Path, kills: int, outcomes: Counter, life: float) -> dict:
    want, got = params_of(reference), params_of(out)
    identical = list(want) == list(got) and all(np.array_equal(want[k], got[k]) for k in want)
    stale = sorted(str(p.name) for p in out.rglob("*.tmp"))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["event"] == "train"]
    unreadable = []
    for path in list_checkpoints(out / "checkpoints"):
        try:
            load_checkpoint(path)
        except ValueError:
            unreadable.append(path.name)
    return {
        "kills": kills,
        "seconds_per_run": round(life, 2),
        "outcomes": dict(outcomes),
        "identical_final_parameters": identical,
        "stale_temporary_files": stale,
        "duplicate_train_records": len(steps) - len(set(steps)),
        "missing_train_records": sorted(set(range(1, STEPS + 1)) - set(steps)),
        "unreadable_checkpoints": unreadable,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        report = kill_and_resume(Path(root), args.kills, args.seed)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
