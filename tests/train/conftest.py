"""Small corpora and configs that train in seconds."""

import pytest

from bptt.data.shakespeare import load_plays
from bptt.train.config import resolve_config

SMALL = {
    "hidden_size": 16,
    "embed_size": 8,
    "batch_size": 4,
    "k1": 8,
    "k2": 8,
    "steps": 12,
    "eval_every": 6,
    "checkpoint_every": 4,
    "log_every": 2,
    "eval_window": 16,
    "sample_length": 0,
    "eval_sequences": 40,
}


@pytest.fixture
def text_file(tmp_path):
    """About 6,000 characters of one play."""
    path = tmp_path / "play.txt"
    path.write_text(load_plays()[0].text[:6000], encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path):
    """make_config(name, **changes): a small TrainConfig writing under tmp_path/name; the
    changes are a layer over SMALL (``bptt="full"`` overrides its k1 and k2)."""

    def make(name="run", **changes):
        return resolve_config({**SMALL, "out": str(tmp_path / name)}, changes)

    return make
