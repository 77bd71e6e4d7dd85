"""`bptt export`: checkpoints of real runs to ONNX and safetensors; a user's mistake is one
line on stderr and exit code 2."""

import json

import numpy as np
import pytest

from bptt.cli import main
from bptt.export import load_safetensors

onnx = pytest.importorskip("onnx", reason="pip install 'bptt[export]'")
pytest.importorskip("onnxruntime", reason="pip install 'bptt[export]'")
pytest.importorskip("safetensors", reason="pip install 'bptt[export]'")

ADDING = ["--task", "adding", "--seq-len", "12", "--hidden", "6", "--steps", "2"]
ADDING += ["--eval-every", "2", "--eval-sequences", "20"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs: a 2-layer GRU on the adding task (float inputs), and a 2-layer LSTM on
    a text (token ids, a vocabulary)."""
    root = tmp_path_factory.mktemp("runs")
    text = root / "notes.txt"
    text.write_text("the quick brown fox jumps over the lazy dog\n" * 40, encoding="utf-8")
    adding = ["train", *ADDING, "--cell", "gru", "--layers", "2", "--out", str(root / "gru")]
    assert main(adding) == 0
    lstm = ["train", "--text", str(text), "--hidden", "8", "--embed", "4", "--layers", "2"]
    lstm += ["--batch", "4", "--bptt", "8", "--steps", "2", "--eval-every", "2"]
    lstm += ["--sample-length", "0", "--out", str(root / "lstm")]
    assert main(lstm) == 0
    return root


def one_line_error(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bptt export: error: ")
    assert text in err


def test_export_onnx_and_verify(runs, tmp_path, capsys):
    out = tmp_path / "gru.onnx"
    assert main(["export", str(runs / "gru"), str(out), "--verify"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "gru 2x6, readout all" in printed
    assert float(printed.split("largest difference ")[1].split()[0]) < 1e-5
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)


def test_export_a_text_model_keeps_its_vocabulary(runs, tmp_path, capsys):
    out = tmp_path / "lstm.onnx"
    assert main(["export", str(runs / "lstm"), str(out), "--verify"]) == 0
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert "q" in json.loads(props["bptt.vocab"])
    weights = tmp_path / "lstm.safetensors"
    assert main(["export", str(runs / "lstm"), str(weights)]) == 0
    model, params, vocab = load_safetensors(weights)
    assert model.config.num_layers == 2 and "q" in vocab
    assert params["layers.1.W_h"].dtype == np.float32
    assert "safetensors, all weights" in capsys.readouterr().out


def test_a_bad_checkpoint_path_is_one_line_and_exit_2(tmp_path, capsys):
    one_line_error(capsys, ["export", str(tmp_path / "nope"), "m.onnx"], "does not exist")
    (tmp_path / "empty").mkdir()
    one_line_error(capsys, ["export", str(tmp_path / "empty"), "m.onnx"], "No checkpoint")


def test_a_user_cell_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "user"
    argv = ["train", *ADDING, "--cell", "linear_cell:LinearCell", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    one_line_error(capsys, ["export", str(out), str(tmp_path / "m.onnx")], "user-defined cell")
    assert not (tmp_path / "m.onnx").exists()


def test_format_and_option_mistakes(runs, tmp_path, capsys):
    gru = str(runs / "gru")
    one_line_error(capsys, ["export", gru, str(tmp_path / "m.txt")], "pass --format")
    one_line_error(
        capsys, ["export", gru, str(tmp_path / "m.onnx"), "--rnn-only"], "--rnn-only applies"
    )
    one_line_error(capsys, ["export", gru, str(tmp_path / "w.safetensors"), "--verify"], "ONNX")
    one_line_error(capsys, ["export", gru, str(tmp_path / "no" / "m.onnx")], "Cannot write")
    float64 = ["export", gru, str(tmp_path / "m64.onnx"), "--dtype", "float64", "--verify"]
    one_line_error(capsys, float64, "float32 only")
    assert main(["export", gru, str(tmp_path / "m.bin"), "--format", "safetensors"]) == 0
