"""Checkpoints: one ``.npz`` file holding arrays and a JSON header, written atomically.

A checkpoint holds everything needed to resume bit for bit: parameters, optimizer state, step,
RNG state, data cursor, the carried hidden state, the vocabulary, the resolved config and a
format version. Arrays are stored under ``params/<name>``, ``opt/<i>`` (the optimizer state's
leaves in order) and ``carries/<k>/<field>``; the JSON header is the 0-d unicode array ``meta``.
Nothing is pickled: files are read with ``allow_pickle=False``.

Writes go to a temporary file in the same directory, are flushed to disk, then moved into
place with ``os.replace`` ("pre-emption safe by writing to temporary before a final rename",
as flax's save_checkpoint says), so an interrupted run never leaves a half-written checkpoint.
A temporary file left by a killed process is removed when its run starts again
(``remove_temporaries``). Every header holds the run's ``run_id``, and pruning removes only
checkpoints of the same run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bptt.errors import BpttError, BpttFileNotFoundError, BpttStorageError

FORMAT_VERSION = 1
_NAME = re.compile(r"^ckpt-(\d{8})\.npz$")
BEST = "best.npz"
"""The checkpoint of the best validation so far, beside the last ones (never pruned)."""


class Checkpoint(NamedTuple):
    """A loaded checkpoint.

    Attributes:
        params: {name: array}.
        opt_leaves: the optimizer state's array leaves, in ``flatten`` order.
        carries: per layer-direction, {field: (B, H) array}; None when no state is carried.
        meta: the JSON header (step, cursor, rng_state, config, vocab, format_version, ...).
        path: where it was read from.
    """

    params: dict[str, np.ndarray]
    opt_leaves: list[np.ndarray]
    carries: list[dict[str, np.ndarray]] | None
    meta: dict[str, Any]
    path: Path


def flatten(tree: Any) -> list[Any]:
    """The leaves of nested tuples, NamedTuples, lists and dicts, depth first, in order."""
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in flatten(value)]
    if isinstance(tree, tuple | list):
        return [leaf for value in tree for leaf in flatten(value)]
    return [tree]


def unflatten(template: Any, leaves: list[Any]) -> Any:
    """Rebuild ``template``'s structure with ``leaves`` (the inverse of ``flatten``)."""
    it = iter(leaves)

    def build(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: build(value) for key, value in node.items()}
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*(build(value) for value in node))
        if isinstance(node, tuple | list):
            return type(node)(build(value) for value in node)
        leaf = next(it, None)
        if leaf is None:
            raise BpttError(
                "the checkpoint holds less optimizer state than this optimizer has; resume "
                "with the optimizer it was trained with."
            )
        if isinstance(node, np.ndarray):
            return np.asarray(leaf, dtype=node.dtype).reshape(node.shape)
        return type(node)(np.asarray(leaf).item())

    rebuilt = build(template)
    if next(it, None) is not None:
        raise BpttError(
            "the checkpoint holds more optimizer state than this optimizer has; resume with "
            "the optimizer it was trained with."
        )
    return rebuilt


def checkpoint_path(directory: Path, step: int) -> Path:
    return Path(directory) / f"ckpt-{step:08d}.npz"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def save_checkpoint(
    directory: Path,
    *,
    params: dict[str, np.ndarray],
    opt_state: Any,
    carries: Any,
    meta: dict[str, Any],
    keep: int = 3,
    name: str | None = None,
) -> Path:
    """Write ``ckpt-<step>.npz`` atomically into ``directory`` and keep the newest ``keep`` of
    the same run (the header's ``run_id``); checkpoints of any other run are never removed.

    Args:
        directory: the checkpoint directory (created if missing).
        params: model parameters.
        opt_state: the optimizer state (any nesting of NamedTuples, dicts, arrays, scalars).
        carries: tuple of carries (NamedTuples of (B, H) arrays) or None.
        meta: JSON-serialisable header; must hold "step".
        keep: how many checkpoints to keep; older ones are deleted after the new one is in place.
        name: a file name of its own instead of ``ckpt-<step>.npz`` (e.g. ``BEST``); such a
            file replaces its predecessor and nothing is pruned.

    Returns:
        The path written.

    Raises:
        BpttStorageError: the file could not be written (the directory, a full disk, a
            read-only file system); nothing was replaced and no temporary file is left.
    """
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {f"params/{k}": np.asarray(v) for k, v in params.items()}
    for i, leaf in enumerate(flatten(opt_state)):
        arrays[f"opt/{i:05d}"] = np.asarray(leaf)
    if carries is not None:
        for k, carry in enumerate(carries):
            for field, value in zip(carry._fields, carry, strict=True):
                arrays[f"carries/{k}/{field}"] = np.asarray(value)
    header = {**meta, "format_version": FORMAT_VERSION}
    arrays["meta"] = np.array(json.dumps(header))
    target = checkpoint_path(directory, int(meta["step"])) if name is None else directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, arrays)
    except OSError as error:
        raise BpttStorageError(
            f"Could not write checkpoint {target} ({error.strerror or error})"
        ) from None
    if name is not None:
        return target
    same_run = [p for p in list_checkpoints(directory) if run_of(p) == meta.get("run_id")]
    for old in same_run[:-keep]:
        old.unlink(missing_ok=True)
    return target


def _write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` into a temporary file beside ``target``, synced, then renamed onto it."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".ckpt-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_of(path: Path) -> str | None:
    """The run_id in a checkpoint's header; None when it has none or cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError):
        return None
    return meta.get("run_id") if isinstance(meta, dict) else None


def set_aside_later(directory: Path, run_id: str, step: int) -> list[Path]:
    """Move the run's checkpoints of steps after ``step`` (and a best.npz from after it) into
    ``directory/abandoned-<step>/``: a run resumed from an earlier checkpoint goes another
    way from there, and its newest checkpoint must be its own, while nothing is deleted.

    Returns:
        The new paths of the files moved.
    """
    directory = Path(directory)
    later = [
        p
        for p in [*list_checkpoints(directory), directory / BEST]
        if p.is_file() and run_of(p) == run_id and _step_of(p) > step
    ]
    if not later:
        return []
    folder = directory / f"abandoned-{step:08d}"
    try:
        folder.mkdir(exist_ok=True)
        moved = [path.replace(folder / path.name) for path in later]
    except OSError as error:
        raise BpttStorageError(
            f"Could not move the checkpoints after step {step} into {folder} "
            f"({error.strerror or error})"
        ) from None
    return moved


def _step_of(path: Path) -> int:
    """The step in a checkpoint's header (-1 when it cannot be read)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError):
        return -1
    step = meta.get("step") if isinstance(meta, dict) else None
    return step if isinstance(step, int) else -1


def remove_temporaries(directory: Path) -> list[Path]:
    """Remove the ``.ckpt-*.tmp`` files a killed writer left in ``directory``; returns them.

    Call it only for a directory that holds one run's checkpoints, before that run writes.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    stale = sorted(directory.glob(".ckpt-*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def resolve_checkpoint(path: str | Path, *, best: bool = False) -> Path:
    """A checkpoint file, or the newest one in a run directory (or its ``checkpoints/``); with
    ``best``, the run's best.npz where it has one."""
    path = Path(path)
    if path.is_dir() and best:
        for folder in (path, path / "checkpoints"):
            if (folder / BEST).is_file():
                return folder / BEST
    if path.is_dir():
        found = list_checkpoints(path) or list_checkpoints(path / "checkpoints")
        if not found:
            raise BpttFileNotFoundError(
                f"No checkpoint (ckpt-NNNNNNNN.npz) in {path}. Pass a checkpoint file or the "
                "output directory of a `bptt train` run."
            )
        return found[-1]
    if not path.exists():
        raise BpttFileNotFoundError(f"Checkpoint {path} does not exist.")
    return path


def _starts_like_a_zip(path: Path) -> bool:
    """Whether the file begins as an .npz (a zip archive) does; a truncated one still does."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return True  # let np.load report why it cannot be read


def load_checkpoint(path: str | Path, *, best: bool = False) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises:
        FileNotFoundError: no such file or no checkpoint in the directory.
        ValueError: a truncated or corrupted file, or one from a newer format version.
    """
    path = resolve_checkpoint(path, best=best)
    if not _starts_like_a_zip(path):
        raise BpttError(
            f"{path} is not a bptt checkpoint (a ckpt-NNNNNNNN.npz file written by `bptt "
            "train`). Pass a checkpoint file or the output directory of a run."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as error:
        raise BpttError(
            f"Checkpoint {path} is truncated or corrupted ({type(error).__name__}). "
            "Resume from an earlier checkpoint in the same directory."
        ) from None
    if not isinstance(meta, dict):
        raise BpttError(
            f"Checkpoint {path} has a header of type {type(meta).__name__}, not the JSON "
            "object `bptt train` writes; it is not a bptt checkpoint or it was altered."
        )
    if not isinstance(meta.get("step"), int):
        raise BpttError(
            f"Checkpoint {path} has no step in its header; it was not written by `bptt train` "
            "or it was altered. Use another checkpoint of the run."
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BpttError(
            f"Checkpoint {path} has format version {version!r}; this bptt reads versions up to "
            f"{FORMAT_VERSION}. Upgrade bptt (pip install -U bptt) to read it."
        )
    params = {k[len("params/") :]: v for k, v in arrays.items() if k.startswith("params/")}
    opt_leaves = [arrays[k] for k in sorted(k for k in arrays if k.startswith("opt/"))]
    carry_keys = [k for k in arrays if k.startswith("carries/")]
    carries = None
    if carry_keys:
        count = 1 + max(int(k.split("/")[1]) for k in carry_keys)
        carries = [{} for _ in range(count)]
        for key in carry_keys:
            _, k, field = key.split("/")
            carries[int(k)][field] = arrays[key]
    return Checkpoint(params, opt_leaves, carries, meta, path)
