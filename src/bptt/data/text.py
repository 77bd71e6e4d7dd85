"""Character vocabularies and safe text-file reading.

A :class:`Vocabulary` maps each distinct character to an id, in sorted (code point) order, so
the same text always gives the same ids. Encoding and decoding are vectorised over UTF-32 code
points, which keeps a 5-million-character corpus well under a second.

Example::

    vocab = Vocabulary.from_text("hello")  # chars ('e', 'h', 'l', 'o')
    ids = vocab.encode("hell")  # array([1, 0, 2, 2])
    vocab.decode(ids)  # 'hell'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bptt.errors import BpttError, BpttTypeError

_UTF32 = "utf-32-le"


def _code_points(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as a (N,) uint32 array."""
    return np.frombuffer(text.encode(_UTF32), dtype="<u4")


@dataclass(frozen=True)
class Vocabulary:
    """A sorted tuple of distinct characters; id i stands for ``chars[i]``.

    Attributes:
        chars: the V characters in increasing code point order, each of length 1.
    """

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        chars = tuple(self.chars)
        if not chars:
            raise BpttError("A Vocabulary needs at least one character, got none.")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise BpttError(f"Every vocabulary entry must be a single character, got {bad[:5]!r}.")
        if list(chars) != sorted(set(chars)):
            raise BpttError(
                "Vocabulary characters must be distinct and sorted by code point. "
                "Build it with Vocabulary.from_text(text) or Vocabulary.from_list(saved_list)."
            )
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_codes", _code_points("".join(chars)))

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of every distinct character in ``text``.

        Raises:
            ValueError: if ``text`` is empty.
        """
        if not text:
            raise BpttError("Cannot build a Vocabulary from empty text; pass the corpus text.")
        return cls(tuple(sorted(set(text))))

    @classmethod
    def from_list(cls, chars: list[str]) -> Vocabulary:
        """Rebuild a vocabulary stored with :meth:`to_list` (e.g. in a checkpoint's JSON)."""
        if not isinstance(chars, list | tuple):
            raise BpttTypeError(
                f"`chars` must be a list of characters, got {type(chars).__name__}."
            )
        return cls(tuple(chars))

    def to_list(self) -> list[str]:
        """The characters as a JSON-serialisable list, in id order."""
        return list(self.chars)

    @property
    def size(self) -> int:
        """V, the number of characters."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Map ``text`` (N characters) to a (N,) int64 array of ids.

        Raises:
            ValueError: if ``text`` contains characters outside the vocabulary.
        """
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)  # (N,)
        known = self._codes[np.minimum(ids, self.size - 1)] == codes
        if not known.all():
            unknown = Counter(text[i] for i in np.flatnonzero(~known))
            listed = ", ".join(f"{c!r} (x{n})" for c, n in sorted(unknown.items()))
            raise BpttError(
                f"`text` has {len(unknown)} character(s) outside the vocabulary of size "
                f"{self.size}: {listed}. Build the vocabulary from all the text it must encode "
                "(e.g. Vocabulary.from_text(train + valid + test)), or remove those characters."
            )
        return ids.astype(np.int64)

    def decode(self, ids: Any) -> str:
        """Map a (N,) array of ids back to a string of N characters.

        Raises:
            ValueError: if ``ids`` is not 1-D or holds an id outside [0, V).
        """
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu" and arr.size:
            raise BpttTypeError(f"`ids` must be integers, got dtype {arr.dtype}.")
        if arr.ndim != 1:
            raise BpttError(
                f"`ids` must be 1-D (N,), got shape {arr.shape}; decode one sequence at a time "
                "(e.g. ids[:, b] for stream b of a (T, B) batch)."
            )
        arr = arr.astype(np.int64)
        out_of_range = (arr < 0) | (arr >= self.size)
        if out_of_range.any():
            raise BpttError(
                f"`ids` holds {int(out_of_range.sum())} id(s) outside [0, {self.size}), e.g. "
                f"{int(arr[out_of_range][0])}. Decode with the vocabulary the ids came from."
            )
        return self._codes[arr].astype("<u4").tobytes().decode(_UTF32)


def read_text_file(path: str | Path) -> str:
    """Read a UTF-8 text file exactly as stored (no newline translation; a BOM is dropped).

    Raises:
        ValueError: if the file is missing, is a directory, is empty, holds NUL bytes (a binary
            file) or is not valid UTF-8; each message names the path.
    """
    path = Path(path)
    if not path.exists():
        raise BpttError(f"Text file {str(path)!r} does not exist. Check the path.")
    if not path.is_file():
        raise BpttError(f"{str(path)!r} is not a regular file; pass the path of a text file.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BpttError(
            f"Text file {str(path)!r} cannot be read ({error.strerror or error}); check its "
            "permissions."
        ) from None
    if not data:
        raise BpttError(f"Text file {str(path)!r} is empty; a corpus needs at least one char.")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise BpttError(
            f"{str(path)!r} looks binary: it has a NUL byte at offset {nul}. "
            "Pass a plain-text file (UTF-8)."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BpttError(
            f"{str(path)!r} is not valid UTF-8: byte 0x{data[err.start]:02x} at offset "
            f"{err.start}. Convert it first, e.g. `iconv -f LATIN1 -t UTF-8 in.txt > out.txt`."
        ) from None
