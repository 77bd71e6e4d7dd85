"""A small text file and the options that make `bptt train` run in about a second."""

import pytest

from bptt.data.shakespeare import load_plays

FAST = [
    "--hidden",
    "16",
    "--embed",
    "8",
    "--batch",
    "4",
    "--bptt",
    "8",
    "--steps",
    "6",
    "--eval-every",
    "3",
    "--checkpoint-every",
    "3",
    "--log-every",
    "3",
    "--sample-length",
    "20",
]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(load_plays()[0].text[:5000], encoding="utf-8")
    return path


@pytest.fixture
def fast():
    return list(FAST)
