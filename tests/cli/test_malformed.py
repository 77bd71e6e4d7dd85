"""Malformed input, refused before any work: exit 2, one line on stderr, no traceback, and no
file created or changed on disk. Each group is one kind of mistake; {text}, {run}, {toml} and
{dir} stand for a small text file, a trained run, a config file and an existing directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bptt.cli import main
from bptt.train import memory
from bptt.train.checkpoint import load_checkpoint

TRAIN = ["train", "--text", "{text}", "--out", "{out}"]

SIZES = {  # what cannot fit in memory is refused with the estimate, before any allocation
    "hidden 10 million": ([*TRAIN, "--hidden", "10000000"], "memory"),
    "hidden 30000": ([*TRAIN, "--hidden", "30000"], "memory"),
    "seq-len 1e9": (
        ["train", "--task", "adding", "--seq-len", "1000000000", "--out", "{out}"],
        "memory",
    ),
    "batch 1e8": ([*TRAIN, "--batch", "100000000"], "memory|too short for 100000000 streams"),
    "layers 100000": ([*TRAIN, "--layers", "100000"], "memory"),
    "eval-sequences 1e9": (
        ["train", "--task", "adding", "--eval-sequences", "1000000000", "--out", "{out}"],
        "memory",
    ),
    "sample length 1e12": (["sample", "{run}", "--length", "1000000000000"], "memory"),
    "diagnose hidden 300000": (["diagnose", "--hidden", "300000", "--out", "{out}"], "memory"),
    "gradcheck hidden 300000": (["gradcheck", "--cell", "lstm", "--hidden", "300000"], "memory"),
    "train sample length 1e11": ([*TRAIN, "--sample-length", "100000000000"], "memory"),
    "diagnose window 1e7": (
        ["diagnose", "--text", "{text}", "--window", "10000000", "--out", "{out}"],
        "longer than the validation text",
    ),
}

VALUES = {  # checked when parsed, not after training
    "temperature nan": ([*TRAIN, "--temperature", "nan"], "`temperature`"),
    "temperature 0": ([*TRAIN, "--temperature", "0"], "`temperature`"),
    "stop-at nan": ([*TRAIN, "--stop-at", "nan"], "`stop_at`"),
    "forget-bias nan": ([*TRAIN, "--forget-bias", "nan"], "`forget_bias`"),
    "lr inf": ([*TRAIN, "--lr", "inf"], "`learning_rate`"),
    "clip -1": ([*TRAIN, "--clip", "-1"], "`clip`"),
    "dropout 1": ([*TRAIN, "--dropout", "1"], "`dropout`"),
    "seed -1": ([*TRAIN, "--seed", "-1"], "`seed`"),
    "hidden 0": ([*TRAIN, "--hidden", "0"], "`hidden_size`"),
    "steps 0": ([*TRAIN, "--steps", "0"], "`steps`"),
    "bptt 0": ([*TRAIN, "--bptt", "0"], "`bptt` must be an integer K >= 1"),
    "k1 > k2": ([*TRAIN, "--k1", "9", "--k2", "3"], "`k1` \\(9\\) must not exceed `k2` \\(3\\)"),
    "memory budget": ([*TRAIN, "--memory-budget", "lots"], "`memory_budget`"),
    "hidden not a number": ([*TRAIN, "--hidden", "1e9"], "invalid int value"),
    "unknown cell": ([*TRAIN, "--cell", "transformer"], "Unknown cell"),
    "unknown task": (["train", "--task", "imagenet", "--out", "{out}"], "invalid choice"),
    "unknown option": ([*TRAIN, "--hiden", "8"], "unrecognized arguments"),
    "empty out": (["train", "--text", "{text}", "--out", ""], "`out` must name a directory"),
    "sample temperature nan": (["sample", "{run}", "--temperature", "nan"], "temperature"),
    "sample prime outside the vocabulary": (["sample", "{run}", "--prime", "\u2603"], "vocabulary"),
}

CONFIG_FILES = {  # a wrong type names the field and the type it needs
    'clip = "x"': ('clip = "x"', "`clip` .*number"),
    'dropout = "0.1"': ('dropout = "0.1"', "`dropout` .*number"),
    'temperature = "hot"': ('temperature = "hot"', "`temperature` .*number"),
    "out = 5": ("out = 5", "`out` .*string"),
    "seed = 1.5": ("seed = 1.5", "`seed` .*integer"),
    'carry = "no"': ('carry = "no"', "`carry` .*true or false"),
    'stop_at = "x"': ('stop_at = "x"', "`stop_at` .*number"),
    "unknown name": ("hiden = 8", "Unknown setting"),
    "not TOML": ("clip = = 1", "not valid TOML"),
}

NOT_APPLICABLE = {  # options that do not apply are refused, not ignored
    "text with task adding": (
        ["train", "--task", "adding", "--text", "{text}", "--out", "{out}"],
        "--text",
    ),
    "no-carry on a sequence task": (
        ["train", "--task", "adding", "--no-carry", "--out", "{out}"],
        "--no-carry",
    ),
    "diagnose checkpoint with hidden": (
        ["diagnose", "--checkpoint", "{run}", "--hidden", "5", "--out", "{out}"],
        "--hidden",
    ),
    "diagnose hidden 0": (["diagnose", "--hidden", "0", "--out", "{out}"], "`hidden_size`"),
    "gradcheck layers 0": (["gradcheck", "--layers", "0"], "`--layers`|`num_layers`"),
    "gradcheck tol -1": (["gradcheck", "--tol", "-1"], "--tol"),
    "gradcheck tol nan": (["gradcheck", "--tol", "nan"], "--tol"),
    "bench threads 0": (["bench", "--threads", "0", "--no-torch"], "--threads"),
    "bench config 1,2,3": (["bench", "--config", "1,2,3"], "B,T,D,H"),
    "bench json unwritable": (
        ["bench", "--no-torch", "--json", "{out}/missing/dir/x.json"],
        "cannot be written|does not exist",
    ),
}

FILES = {  # files that are not what they should be
    "resume random bytes": (["train", "--resume", "{random}"], "not a bptt checkpoint"),
    "resume a TOML file": (["train", "--resume", "{toml}"], "not a bptt checkpoint"),
    "resume a missing path": (["train", "--resume", "{out}/nope"], "does not exist"),
    "config a directory": (
        ["train", "--config", "{dir}", "--out", "{out}"],
        "is a directory",
    ),
    "config missing": (["train", "--config", "{out}/none.toml", "--out", "{out}"], "not exist"),
    "sample header without config": (["sample", "{no_config}"], "no .*config"),
    "eval header without config": (["eval", "{no_config}"], "no .*config"),
    "sample header a list": (["sample", "{list_header}"], "not the JSON object"),
    "text missing": (["train", "--text", "{out}/none.txt", "--out", "{out}"], "does not exist"),
    "text binary": (["train", "--text", "{random}", "--out", "{out}"], "UTF-8|binary"),
    "text a directory": (["train", "--text", "{dir}", "--out", "{out}"], "not a regular file"),
    "text unreadable": (["train", "--text", "{unreadable}", "--out", "{out}"], "cannot be read"),
    "out is a file": (["train", "--text", "{text}", "--out", "{text}"], "not a directory|exists"),
}

CASES = {**SIZES, **VALUES, **NOT_APPLICABLE, **FILES}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The files the cases refer to, made once: a text, a trained run, odd checkpoints."""
    from bptt.data.shakespeare import load_plays

    root = tmp_path_factory.mktemp("malformed")
    text = root / "play.txt"
    text.write_text(load_plays()[0].text[:5000], encoding="utf-8")
    run = root / "run"
    fast = ["--hidden", "8", "--embed", "4", "--batch", "4", "--bptt", "8", "--steps", "2"]
    assert main(["train", "--text", str(text), "--out", str(run), *fast]) == 0
    ckpt = load_checkpoint(run)
    arrays = {f"params/{k}": v for k, v in ckpt.params.items()}
    no_config = root / "no-config.npz"
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("config", "model_config")}
    np.savez(no_config, meta=np.array(json.dumps(meta)), **arrays)
    list_header = root / "list-header.npz"
    np.savez(list_header, meta=np.array(json.dumps([1, 2])), **arrays)
    random = root / "random.npz"
    random.write_bytes(np.random.default_rng(0).bytes(4096))
    toml = root / "run.toml"
    toml.write_text("hidden_size = 8\n", encoding="utf-8")
    folder = root / "a-folder"
    folder.mkdir()
    unreadable = root / "unreadable.txt"
    unreadable.write_text("some text", encoding="utf-8")
    return {
        "text": text,
        "run": run,
        "no_config": no_config,
        "list_header": list_header,
        "random": random,
        "toml": toml,
        "dir": folder,
        "unreadable": unreadable,
    }


def snapshot(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): _read(p) for p in files}


def _read(path: Path) -> bytes:
    with open(path, "rb") as f:  # not Path.read_bytes, which a case patches
        return f.read()


def refused(argv, match, capsys, root):
    """Run ``argv``: exit 2, one line naming the mistake, nothing on disk created or changed."""
    before = snapshot(root)
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors (bptt's parser keeps them to one line)
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    import re

    assert re.search(match, err), (match, err)
    assert snapshot(root) == before


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_one_line(case, files, tmp_path, capsys, monkeypatch):
    argv, match = CASES[case]
    names = {k: str(v) for k, v in files.items()} | {"out": str(tmp_path / "out")}
    argv = [a.format(**names) for a in argv]
    root = files["text"].parent
    # Sizes are judged against 16 GiB, whatever this machine has.
    monkeypatch.setattr(memory, "available_bytes", lambda: 16 << 30)
    if case == "text unreadable":  # root may read any file: the read itself fails here
        real = Path.read_bytes

        def denied(path):
            if path.name == "unreadable.txt":
                raise PermissionError(13, "Permission denied")
            return real(path)

        monkeypatch.setattr(Path, "read_bytes", denied)
    refused(argv, match, capsys, root)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", list(CONFIG_FILES))
def test_config_files_name_the_field_and_its_type(case, files, tmp_path, capsys):
    content, match = CONFIG_FILES[case]
    toml = tmp_path / "bad.toml"
    toml.write_text(content + "\n", encoding="utf-8")
    argv = ["train", "--text", str(files["text"]), "--config", str(toml)]
    refused([*argv, "--out", str(tmp_path / "out")], match, capsys, files["text"].parent)
    assert not (tmp_path / "out").exists()
