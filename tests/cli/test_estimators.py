"""`bptt estimators compare` and `bptt estimators train` in-process."""

import json

import numpy as np

from bptt.cli import main

SMALL = ["--task", "adding", "--seq-len", "6", "--hidden", "4", "--batch", "2"]


def test_compare_writes_the_table_json_and_figure(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["estimators", "compare", *SMALL, "--estimators", "bptt,rtrl,uoro,tbptt:2"]
    assert main([*args, "--draws", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "estimator" in text and "rtrl" in text and "tbptt:2" in text
    data = json.loads((out / "estimators.json").read_text())
    reports = {r["name"]: r for r in data["reports"]}
    assert reports["rtrl"]["bias"] < 1e-10 and reports["uoro"]["draws"] == 3
    assert (out / "estimators.png").read_bytes()[:4] == b"\x89PNG"


def test_train_then_compare_the_trained_model(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["estimators", "train", *SMALL, "--estimator", "snap1", "--updates", "12"]
    assert main([*args, "--eval-every", "6", "--eval-sequences", "4", "--out", str(run)]) == 0
    assert "valid: mse" in capsys.readouterr().out
    records = json.loads((run / "history.json").read_text())
    assert records[-1]["kind"] == "eval" and records[-1]["update"] == 12
    with np.load(run / "params.npz") as saved:
        assert "layers.0.W_h" in saved.files
    assert (run / "curve.png").exists()
    cmp = ["estimators", "compare", *SMALL, "--params", str(run / "params.npz")]
    assert main([*cmp, "--estimators", "rtrl", "--out", str(tmp_path / "c")]) == 0


def test_a_sparse_network_stays_sparse_and_snap2_follows_it(tmp_path):
    run = tmp_path / "run"
    args = ["estimators", "train", *SMALL, "--cell", "gru", "--density", "0.3"]
    assert main([*args, "--estimator", "snap2", "--updates", "8", "--out", str(run)]) == 0
    with np.load(run / "params.npz") as saved:
        W_h = saved["layers.0.W_h"]
    assert 0.2 < np.mean(W_h != 0) < 0.6  # kept: 30% and every block's diagonal


def test_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["estimators", "compare", *SMALL, "--estimators", "kfrtrl", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bptt estimators compare: error: Unknown estimator 'kfrtrl'")
    assert err.count("\n") == 1
    bad = tmp_path / "p.npz"
    np.savez(bad, w=np.zeros(2))
    assert main(["estimators", "compare", *SMALL, "--params", str(bad), "--out", out]) == 2
    assert "does not fit this model" in capsys.readouterr().err
    assert main(["estimators", "train", *SMALL, "--every", "0", "--out", out]) == 2
    assert "`--every` must be >= 1" in capsys.readouterr().err
    assert main(["estimators", "train", *SMALL, "--density", "0", "--out", out]) == 2
    assert "`--density` must be in (0, 1]" in capsys.readouterr().err
    assert main(["estimators", "train", *SMALL, "--lr", "nan", "--out", out]) == 2
    assert "`--lr` must be a finite number > 0" in capsys.readouterr().err
    assert main(["estimators", "compare", *SMALL, "--draws", "1", "--out", out]) == 2
    assert "`--draws` must be >= 2" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # a refused command creates nothing
    assert main(["estimators"]) == 2
    assert "compare" in capsys.readouterr().out
