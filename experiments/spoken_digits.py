"""Spoken digits synthesised with espeak-ng: a speaker-independent audio classification set.

    apt-get install -y espeak-ng && pip install -e ".[audio]"
    python experiments/spoken_digits.py runs/spoken_digits          # about 2,000 clips

Every voice is an espeak-ng accent ("en-us", "en-gb-scotland", ...) with a voice variant
(``+m3``, ``+f2``, ``+klatt``, ...: the timbre, pitch range and breathiness of a speaker).
The variants are dealt (seeded) into train, valid and test: no variant of the valid or test
split is ever heard in training, in any accent, so the test accuracy is speaker-independent.
Each clip is one digit word ("zero" .. "nine") at a random speed (130-190 words per minute)
and pitch (25-75 of espeak's 0-99), shifted by up to 0.15 s of leading silence, with white or
pink noise at a random signal-to-noise ratio of 5 to 30 dB. Clips are written at espeak's
22,050 Hz (the loader resamples them to 16 kHz), WAV and FLAC alternately:

    OUT/train/<digit>/<accent>+<variant>-<n>.wav|flac, OUT/valid/..., OUT/test/...
    OUT/voices.json   which variants are in which split, and every setting

Nothing is downloaded; the same seed writes the same files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
VARIANTS = (
    *(f"m{i}" for i in range(1, 8)),
    *(f"f{i}" for i in range(1, 6)),
    "klatt",
    "klatt2",
    "klatt3",
    "adam",
    "Andy",
    "Annie",
    "belinda",
    "david",
    "linda",
    "steph",
    "travis",
    "zac",
)
SPLIT_SIZES = {"test": 5, "valid": 4}  # the other variants train


def split_variants(seed: int) -> dict[str, list[str]]:
    order = [VARIANTS[i] for i in np.random.default_rng(seed).permutation(len(VARIANTS))]
    test, valid = (
        order[: SPLIT_SIZES["test"]],
        order[SPLIT_SIZES["test"] : sum(SPLIT_SIZES.values())],
    )
    train = order[sum(SPLIT_SIZES.values()) :]
    return {"train": sorted(train), "valid": sorted(valid), "test": sorted(test)}


def speak(word: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word],
        check=True,
        capture_output=True,
    )


def pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Noise with a 1/f power spectrum (white noise shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return noise / noise.std()


def degrade(rng: np.random.Generator, clean: np.ndarray, rate: int) -> np.ndarray:
    """Leading silence of 0-0.15 s, then white or pink noise at 5-30 dB SNR."""
    lead = np.zeros(int(rng.uniform(0, 0.15) * rate), dtype=np.float64)
    signal = np.concatenate([lead, clean.astype(np.float64)])
    noise = pink(rng, signal.size) if rng.random() < 0.5 else rng.standard_normal(signal.size)
    snr = rng.uniform(5.0, 30.0)
    power = np.mean(clean.astype(np.float64) ** 2)
    noise *= np.sqrt(power / 10 ** (snr / 10)) / max(noise.std(), 1e-12)
    mixed = signal + noise
    return (0.9 * mixed / max(np.abs(mixed).max(), 1e-9)).astype(np.float32)


def main() -> None:
    import soundfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renditions", type=int, default=1, help="clips per voice and digit")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: apt-get install -y espeak-ng")
    splits = split_variants(args.seed)
    rng = np.random.default_rng([args.seed, 1])
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "clip.wav"
        for split, variants in splits.items():
            for variant in variants:
                for accent in ACCENTS:
                    for digit, word in enumerate(DIGITS):
                        for n in range(args.renditions):
                            speed, pitch = int(rng.integers(130, 191)), int(rng.integers(25, 76))
                            speak(word, f"{accent}+{variant}", speed, pitch, raw)
                            clean, rate = soundfile.read(raw, dtype="float32")
                            suffix = ".wav" if count % 2 == 0 else ".flac"
                            folder = args.out / split / str(digit)
                            folder.mkdir(parents=True, exist_ok=True)
                            path = folder / f"{accent}+{variant}-{n}{suffix}"
                            soundfile.write(path, degrade(rng, clean, rate), rate)
                            count += 1
    info = {
        "splits": splits,
        "accents": ACCENTS,
        "digits": DIGITS,
        "renditions": args.renditions,
        "seed": args.seed,
        "clips": count,
        "speed_wpm": [130, 190],
        "pitch": [25, 75],
        "snr_db": [5, 30],
    }
    (args.out / "voices.json").write_text(json.dumps(info, indent=1))
    print(
        f"wrote {count} clips to {args.out} ({', '.join(f'{k}: {v}' for k, v in splits.items())})"
    )


if __name__ == "__main__":
    main()
