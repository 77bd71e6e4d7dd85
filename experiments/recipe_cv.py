"""Choose RNNClassifier's settings by cross-validation on official training splits only.

    nice python experiments/recipe_cv.py ArrowHead OSULeaf --set hidden_size=32 --folds 4

For every dataset named, the official *training* split is cut into ``--folds`` stratified
folds (seeded, the same for every setting); each fold is predicted by an RNNClassifier fitted
on the other folds (which holds out its own ``validation_fraction`` for early stopping).
The test split is never read. One JSON line per (dataset, setting, seed) goes to
experiments/results/recipe_cv.jsonl: the cross-validated accuracy and log-loss, the epochs
and the wall time; ``--report`` prints the table of everything recorded.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "experiments" / "results" / "recipe_cv.jsonl"


def training_split(name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The official training split of a bundled UCR/UEA set (the test file is not read)."""
    from bptt.data.ucr import _to_split, dataset_path, read_ts, resolve_name

    canonical = resolve_name(name)
    sequences, labels, names = read_ts(dataset_path(canonical, "train"))
    split = _to_split(sequences, labels, names)
    return [split.xs[:L, n] for n, L in enumerate(split.lengths)], split.labels


def folds_of(labels: np.ndarray, k: int, seed: int = 0) -> list[np.ndarray]:
    """k stratified folds: each class's members shuffled (seeded) and dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.empty(labels.size, dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (np.arange(members.size) + offset) % k
        offset += members.size
    return [np.flatnonzero(fold == f) for f in range(k)]


def cross_validate(name: str, settings: dict[str, Any], folds: int, seed: int) -> dict[str, Any]:
    from bptt.sklearn import RNNClassifier

    X, y = training_split(name)
    correct, nll, epochs = 0, 0.0, []
    t0 = time.perf_counter()
    for f, held in enumerate(folds_of(y, folds)):
        kept = np.setdiff1d(np.arange(y.size), held)
        clf = RNNClassifier(random_state=seed * 100 + f, **settings)
        clf.fit([X[i] for i in kept], y[kept])
        proba = clf.predict_proba([X[i] for i in held])
        index = np.searchsorted(clf.classes_, y[held])
        correct += int((clf.classes_[proba.argmax(axis=1)] == y[held]).sum())
        nll += float(-np.log(np.maximum(proba[np.arange(held.size), index], 1e-12)).sum())
        epochs.append([h.best_epoch for h in clf.history_])
    return {
        "dataset": name,
        "settings": settings,
        "seed": seed,
        "folds": folds,
        "cv_accuracy": correct / y.size,
        "cv_logloss": nll / y.size,
        "best_epochs": epochs,
        "seconds": time.perf_counter() - t0,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def report() -> None:
    rows = [json.loads(line) for line in RECORD.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["dataset"], json.dumps(r["settings"], sort_keys=True))
        groups.setdefault(key, []).append(r)
    for (dataset, settings), rs in sorted(groups.items()):
        acc = np.mean([r["cv_accuracy"] for r in rs])
        loss = np.mean([r["cv_logloss"] for r in rs])
        secs = np.mean([r["seconds"] for r in rs])
        print(f"{dataset:18s} acc {acc:.3f} loss {loss:.3f} n={len(rs)} {secs:5.0f}s {settings}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*")
    parser.add_argument("--set", action="append", default=[], help="name=value (Python literal)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    if args.report:
        report()
        return
    settings = {}
    for item in args.set:
        key, _, value = item.partition("=")
        settings[key] = ast.literal_eval(value)
    np.seterr(all="ignore")
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        for seed in args.seeds:
            row = cross_validate(name, settings, args.folds, seed)
            fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (json.dumps(row) + "\n").encode())
            finally:
                os.close(fd)
            print(
                f"{name} {settings} seed {seed}: cv accuracy {row['cv_accuracy']:.3f}, "
                f"log-loss {row['cv_logloss']:.3f}, {row['seconds']:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
