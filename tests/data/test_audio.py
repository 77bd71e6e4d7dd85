"""Audio folders: layouts, decoding and resampling, features, errors; the task and the CLI.

The clips are made here: tones of a class's pitch in noise, written with soundfile."""

import io

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from bptt.data.audio import (  # noqa: E402 (after the skips)
    audio_features,
    list_audio_folder,
    load_audio_folder,
    read_audio,
)

PITCHES = {"low": 220.0, "high": 880.0}


def _clip(rng, pitch, rate, seconds=0.25):
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * pitch * (1 + 0.02 * rng.standard_normal()) * t)
    return (tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def make_folder(root, *, per_class=6, splits=None, rate=8000):
    """root/<class>/*.wav|flac, or root/<split>/<class>/... for each split named."""
    rng = np.random.default_rng(0)
    for split in splits or [""]:
        for name, pitch in PITCHES.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                suffix = ".wav" if i % 2 else ".flac"
                soundfile.write(folder / f"{i}{suffix}", _clip(rng, pitch, rate), rate)
    return root


def test_pool_layout_resamples_and_splits(tmp_path):
    root = make_folder(tmp_path / "clips")
    (root / "low" / "notes.txt").write_text("ignored: not audio")
    data = load_audio_folder(root, test_fraction=0.34)
    assert data.class_names == ("high", "low")
    assert {k: len(v.sequences) for k, v in data.splits.items()} == {"train": 8, "test": 4}
    frames, F = data.splits["train"].sequences[0].shape
    assert F == 40 and 24 <= frames <= 27  # 0.25 s at a 10 ms hop, resampled to 16 kHz
    assert np.bincount(data.splits["test"].labels).tolist() == [2, 2]
    samples = read_audio(root / "low" / "0.flac", 16000)
    assert samples.dtype == np.float32 and samples.shape == (4000,)
    assert audio_features(samples, 16000, kind="mfcc", n_mfcc=13).shape[1] == 13


def test_split_layout(tmp_path):
    root = make_folder(tmp_path / "clips", per_class=2, splits=["train", "valid", "test"])
    layout = list_audio_folder(root)
    assert set(layout) == {"train", "valid", "test"}
    data = load_audio_folder(root)
    assert [len(data.splits[k].paths) for k in ("train", "valid", "test")] == [4, 4, 4]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: (root / "only").mkdir(parents=True), "at least 2 class subfolders"),
        (lambda root: (make_folder(root), (root / "low" / "bad.wav").write_text("x")), "bad.wav"),
        (
            lambda root: (
                make_folder(root, per_class=1, splits=["train", "test"]),
                (root / "test" / "extra").mkdir(),
                soundfile.write(root / "test" / "extra" / "a.wav", np.zeros(80), 8000),
            ),
            r"classes \['extra'\]",
        ),
    ],
)
def test_errors_name_the_problem(tmp_path, make, match):
    root = tmp_path / "clips"
    make(root)
    with pytest.raises(ValueError, match=match):
        load_audio_folder(root)


def test_audio_task_trains_and_the_cli_reports_mistakes(tmp_path, capsys):
    from bptt.cli import main
    from bptt.train.config import resolve_config
    from bptt.train.trainer import Trainer

    root = make_folder(tmp_path / "clips", per_class=8)
    settings = {"task": f"audio:{root}", "out": str(tmp_path / "run"), "steps": 30}
    settings.update(hidden_size=8, eval_every=10, sample_length=0)
    trainer = Trainer(resolve_config(settings), stream=io.StringIO())
    trainer.fit()
    assert trainer.task.model_io() == {"input_size": 40, "output_size": 2}
    assert trainer.evaluate("test")["accuracy"] >= 0.75  # two pitches: easy
    (root / "high" / "broken.wav").write_bytes(b"RIFF0000WAVE")
    code = main(["train", "--task", f"audio:{root}", "--out", str(tmp_path / "run2")])
    err = capsys.readouterr().err
    assert code == 2 and "broken.wav cannot be read as audio" in err
