"""Progress: plain periodic lines off a terminal, a rich progress bar on one."""

import io
import re

import pytest

from bptt.train.progress import Progress

PLAIN = re.compile(r"^step (\d+)/30  loss \d\.\d{4}  grad-norm \S+  \d+\.\d upd/s  ETA \S+$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def _no_forced_terminal(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def _run(stream):
    with Progress(30, 4, stream, every=10) as progress:
        for step in range(5, 31):
            progress.update(step, 2.0 + step / 100, 0.5)
            if step == 20:
                progress.message("step 20: validation bpc 3.1000 (loss 2.1000)")
    return progress


def test_plain_lines_every_n_updates_and_at_the_end():
    stream = io.StringIO()
    assert not _run(stream).tty
    lines = stream.getvalue().splitlines()
    assert [PLAIN.match(line)[1] for line in lines if PLAIN.match(line)] == ["10", "20", "30"]
    assert lines[2] == "step 20: validation bpc 3.1000 (loss 2.1000)"
    assert lines[1].startswith("step 20/30  loss 2.2000  grad-norm 0.5  ")
    assert "\r" not in stream.getvalue() and "\033" not in stream.getvalue()


def test_a_rich_bar_on_a_terminal():
    stream = Terminal()
    assert _run(stream).tty
    text = stream.getvalue()
    assert "30/30" in text and "loss 2.3000" in text and "upd/s" in text
    assert "step 20: validation bpc 3.1000 (loss 2.1000)" in text
    assert not any(PLAIN.match(line) for line in text.splitlines())
