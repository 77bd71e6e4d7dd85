"""A run's output directory: checked before training, then metrics.jsonl and checkpoints/.

OUT/metrics.jsonl holds one JSON object per line, appended to: {"event": "train", "eval",
"nonfinite" or "diagnose", "step": ..., ...}. OUT/checkpoints/ holds ckpt-NNNNNNNN.npz files
(``bptt.train.checkpoint``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bptt.errors import BpttError, BpttPermissionError
from bptt.train.checkpoint import list_checkpoints

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"


def check_writable(out: Path) -> None:
    """Create ``out`` if needed; BpttPermissionError when it cannot be written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as error:
        raise BpttPermissionError(
            f"Output directory {out} is not writable ({error.strerror}); choose another with --out."
        ) from None


def check_output_directory(out: Path, *, resuming: bool) -> None:
    """Fail before training when ``out`` cannot be written or holds another run's checkpoints."""
    check_writable(out)
    if not resuming and list_checkpoints(out / CHECKPOINT_DIR):
        raise BpttError(
            f"Output directory {out} already holds checkpoints of an earlier run; continue it "
            f"with --resume {out}, or choose another --out (nothing was overwritten)."
        )


def append_metrics(out: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``out``/metrics.jsonl."""
    with open(out / METRICS_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
