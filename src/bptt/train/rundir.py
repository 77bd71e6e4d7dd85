"""A run's output directory: checked before training, then metrics.jsonl and checkpoints/.

OUT/config.toml holds the resolved settings. OUT/metrics.jsonl holds one JSON object per
line, appended to: {"event": "train", "eval", "nonfinite", "diagnose" or "resume", "step":
..., ...}. OUT/checkpoints/ holds
ckpt-NNNNNNNN.npz files (``bptt.train.checkpoint``). A directory holds one run: a new run
refuses a directory with checkpoints, and a resumed run one with another run's checkpoints.
When a run resumes, the records it logged after its checkpoint (and will log again) are
dropped from metrics.jsonl and a {"event": "resume"} record marks the point.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from bptt.errors import BpttError, BpttPermissionError, BpttStorageError
from bptt.train.checkpoint import list_checkpoints, run_of
from bptt.train.config import TrainConfig, format_config

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"


def check_writable(out: Path) -> None:
    """BpttPermissionError (or BpttError) when ``out`` could not be made or written; nothing is
    created: an existing directory is probed with a file that is removed at once, a missing
    one through the nearest folder above it that exists."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BpttError(f"--out {out} exists and is not a directory; choose another --out.")
    folder = out
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise BpttError(f"--out {out} lies inside {folder}, which is a file; choose another --out.")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as error:
        raise BpttPermissionError(
            f"Output directory {out} cannot be written ({folder}: {error.strerror}); choose "
            "another with --out."
        ) from None


def check_output_directory(out: Path, *, run_id: str | None = None) -> None:
    """Fail before training when ``out`` cannot be written or holds another run's checkpoints.

    A run resumed in its own directory does not call this for the second part: whatever
    else lies there stays untouched (pruning removes only the run's own checkpoints).

    Args:
        out: the output directory.
        run_id: the run that will write there (resumed into another directory), or None for
            a new run, which needs a directory without checkpoints.
    """
    check_writable(out)
    found = list_checkpoints(out / CHECKPOINT_DIR)
    others = [p for p in found if run_id is None or run_of(p) != run_id]
    if others:
        raise BpttError(
            f"Output directory {out} already holds checkpoints of another run "
            f"({others[-1].name}); continue that run with --resume {out}, or choose another "
            "--out (nothing was overwritten)."
        )


def append_metrics(out: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``out``/metrics.jsonl."""
    try:
        with open(out / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as error:
        raise BpttStorageError(
            f"Could not write {out / METRICS_FILE} ({error.strerror or error})"
        ) from None


LOCK_FILE = ".lock"


def lock_run(out: Path) -> IO[str]:
    """Hold ``out``/.lock for as long as the returned file stays open: a second process
    writing the same run directory (a job restarted while the first still runs) is refused,
    before it truncates metrics or writes checkpoints. The operating system lets go of the
    lock when the holder ends, however it ends."""
    path = out / LOCK_FILE
    try:
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held for the run's life)
    except OSError as error:
        raise BpttStorageError(f"Could not open {path} ({error.strerror or error})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BpttError(
            f"Another `bptt train` process is writing {out} (it holds {path}); wait for it "
            f"to end or stop it, then resume with: bptt train --resume {out}"
        ) from None
    return handle


CONFIG_FILE = "config.toml"


def write_config(out: Path, config: TrainConfig) -> None:
    """OUT/config.toml: the resolved settings of the run (a TrainConfig), which
    ``bptt train --config OUT/config.toml`` reads back (edit its ``out`` for a new run)."""
    path = out / CONFIG_FILE
    tmp = path.with_name(f".{CONFIG_FILE}.tmp")
    try:
        tmp.write_text(format_config(config) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise BpttStorageError(f"Could not write {path} ({error.strerror or error})") from None


def truncate_metrics(out: Path, step: int) -> None:
    """Keep the records of metrics.jsonl up to ``step`` and mark the resume after them.

    A run killed after its last checkpoint logged steps it will train again; those records
    go, so that every step appears once. The file is rewritten atomically.
    """
    path = out / METRICS_FILE
    tmp = path.with_name(f".{METRICS_FILE}.tmp")
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        steps = [_step_of(line) for line in lines]
        kept = [line for line, s in zip(lines, steps, strict=True) if s is not None and s <= step]
        kept.append(json.dumps({"event": "resume", "step": step}))
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise BpttStorageError(f"Could not rewrite {path} ({error.strerror or error})") from None


def _step_of(line: str) -> int | None:
    """The step of a metrics record (0 without one); None for a line cut short by a kill."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    step = record.get("step", 0) if isinstance(record, dict) else None
    return step if isinstance(step, int) else None
