"""`bptt diagnose` in-process: fresh models, a trained checkpoint, comparisons, bad input."""

import json

import numpy as np

from bptt.cli import main
from bptt.train.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint

FRESH = [
    "diagnose",
    "--task",
    "adding",
    "--seq-len",
    "20",
    "--hidden",
    "8",
    "--batches",
    "2",
    "--batch-size",
    "4",
]


def _train_adding(run):
    args = [
        "train",
        "--task",
        "adding",
        "--seq-len",
        "10",
        "--full",
        "--hidden",
        "8",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--eval-sequences",
        "10",
        "--out",
        str(run),
    ]
    assert main(args) == 0


def _report_is_complete(out):
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    data = json.loads((out / "diagnosis.json").read_text())
    assert data and sorted(p.name for p in out.glob("*.png"))
    return data


def test_fresh_model_and_comparison(tmp_path, capsys):
    out = tmp_path / "report"
    assert main([*FRESH, "--compare", "rnn,lstm,gru", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for cell in ("rnn", "lstm", "gru"):
        assert f"{cell}: T = 20" in printed
    assert "Recommendations:" in printed and f"report: {out / 'report.html'}" in printed
    _report_is_complete(out)


def test_checkpoint_of_the_default_training_run(tmp_path, capsys):
    run = tmp_path / "run"
    # The default `bptt train` (Shakespeare, LSTM 1 x 128, BPTT(50, 50)), cut to 2 updates.
    args = ["train", "--steps", "2", "--eval-every", "2", "--sample-length", "0", "--out", str(run)]
    assert main(args) == 0
    out = tmp_path / "report"
    args = [
        "diagnose",
        "--checkpoint",
        str(run),
        "--window",
        "30",
        "--batch-size",
        "4",
        "--batches",
        "2",
        "--sweep",
        "5,30",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert "lstm (step 2): T = 30" in capsys.readouterr().out
    _report_is_complete(out)


def test_nonfinite_model_is_a_finding_not_a_crash(tmp_path, capsys):
    run = tmp_path / "run"
    _train_adding(run)
    ckpt = load_checkpoint(run)
    params = dict(ckpt.params)
    params["layers.0.W_h"] = np.full_like(params["layers.0.W_h"], np.nan)
    broken = tmp_path / "broken"
    save_checkpoint(broken, params=params, opt_state=(), carries=None, meta=ckpt.meta)
    out = tmp_path / "report"
    assert main(["diagnose", "--checkpoint", str(broken), "--batches", "1", "--out", str(out)]) == 0
    assert "non-finite" in capsys.readouterr().out
    assert list_checkpoints(broken)


def _error(capsys, args, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err


def test_bad_input(tmp_path, capsys):
    _error(capsys, ["diagnose", "--checkpoint", str(tmp_path / "none.npz")], "does not exist")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a checkpoint")
    _error(capsys, ["diagnose", "--checkpoint", str(corrupt)], "is not a bptt checkpoint")
    _error(capsys, [*FRESH, "--sweep", "5,50", "--out", str(tmp_path / "r")], "50")
    _error(capsys, [*FRESH, "--compare", "rnn,lstn"], "--compare takes cells")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _error(capsys, [*FRESH, "--out", str(blocker / "r")], "which is a file")
    run = tmp_path / "run"
    _train_adding(run)
    capsys.readouterr()
    _error(capsys, ["diagnose", "--checkpoint", str(run), "--cell", "gru"], "does not match")
    _error(capsys, ["diagnose", "--checkpoint", str(run), "--task", "copy"], "does not match")


def test_a_fresh_model_has_the_config_layers_of_train():
    """Diagnose's own defaults are a layer under the task's defaults and the options."""
    from bptt.cli import build_parser
    from bptt.cli.diagnose import _fresh_config
    from bptt.train.real_tasks import DEFAULTS

    def config(*options):
        return _fresh_config(build_parser().parse_args(["diagnose", *options]))

    assert (config().task, config().cell, config().hidden_size) == ("adding", "lstm", 64)
    assert config("--hidden", "8", "--cell", "gru").hidden_size == 8
    gun_point = config("--task", "ucr:GunPoint")
    assert (gun_point.cell, gun_point.hidden_size) == (
        "gru",
        DEFAULTS["ucr:GunPoint"]["hidden_size"],
    )
    assert config("--text", "notes.txt").task == "text"
