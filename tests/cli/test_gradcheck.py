"""``bptt gradcheck`` run in-process: exit codes and messages."""

import sys
import types

import numpy as np

from bptt.cells.gru import GRUCell
from bptt.cli import main


def test_every_cell_passes(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("PASS: largest relative error")
    for cell in ("rnn", "relu", "lstm", "gru"):
        assert f"{cell} " in out
    assert "layers.2.W_h" in out and "carry0[0].c" in out


def test_one_configuration(capsys):
    args = ["gradcheck", "--cell", "gru", "--bidirectional", "--masked", "--seq-len", "6"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "layers.0.reverse.b_hn" in out and "layers=1 bidirectional, masked" in out


class WrongGRU(GRUCell):
    """A GRU whose step_backward is 0.1% off in the hidden-projection gradient."""

    def step_backward(self, params, cache_t, dcarry):
        dprev, dxp, dhp = super().step_backward(params, cache_t, dcarry)
        return dprev, dxp, dhp * np.float64(1.001)  # a 0.1% error in dW_h and b_hn


def test_a_wrong_gradient_fails(capsys, monkeypatch):
    """A user-defined cell (package.module:ClassName) with a wrong gradient is caught."""
    module = types.ModuleType("wrong_cells")
    module.WrongGRU = WrongGRU
    monkeypatch.setitem(sys.modules, "wrong_cells", module)
    assert main(["gradcheck", "--cell", "wrong_cells:WrongGRU", "--layers", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[-1]
    assert "layers.0.W_h" in next(line for line in out.splitlines() if line.endswith("FAIL"))


def test_user_error_is_one_line_exit_2(capsys):
    assert main(["gradcheck", "--seq-len", "0"]) == 2
    err = capsys.readouterr().err
    assert err == "bptt gradcheck: error: `--seq-len` must be >= 1, got 0.\n"


def test_unknown_cell_is_one_line_exit_2(capsys):
    assert main(["gradcheck", "--cell", "lstn"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Unknown cell 'lstn'" in err and "package.module:ClassName" in err
