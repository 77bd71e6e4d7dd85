import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bptt.data.text import Vocabulary, read_text_file


def test_from_text_sorts_distinct_characters():
    vocab = Vocabulary.from_text("hello world")
    assert vocab.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert vocab.size == 8


def test_encode_gives_int64_ids_in_sorted_order():
    vocab = Vocabulary.from_text("hello")
    ids = vocab.encode("hell")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [1, 0, 2, 2])
    assert vocab.encode("").shape == (0,)


def test_decode_inverts_encode_for_non_ascii_text():
    text = "Ça—va? 'naïve' ünïcödé\n\t"
    vocab = Vocabulary.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text


@given(st.text(min_size=1))
def test_round_trip_any_text(text):
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    assert ids.min() >= 0 and ids.max() < vocab.size
    assert vocab.decode(ids) == text


def test_json_round_trip_keeps_ids():
    vocab = Vocabulary.from_text("to be, or not to be")
    restored = Vocabulary.from_list(json.loads(json.dumps(vocab.to_list())))
    assert restored == vocab
    np.testing.assert_array_equal(restored.encode("be or"), vocab.encode("be or"))


def test_encode_names_unknown_characters_and_the_fix():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) outside the vocabulary of size 3: "):
        vocab.encode("abxyx")
    with pytest.raises(ValueError, match=r"'x' \(x2\), 'y' \(x1\).*Vocabulary.from_text"):
        vocab.encode("abxyx")


def test_decode_rejects_out_of_range_and_2d_ids():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"1 id\(s\) outside \[0, 3\), e.g. 3"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match=r"outside \[0, 3\), e.g. -1"):
        vocab.decode([-1])
    with pytest.raises(ValueError, match=r"must be 1-D \(N,\), got shape \(2, 1\)"):
        vocab.decode([[0], [1]])
    with pytest.raises(TypeError, match="must be integers"):
        vocab.decode([0.5])


@pytest.mark.parametrize(
    ("chars", "message"),
    [
        ([], "at least one character"),
        (["b", "a"], "distinct and sorted"),
        (["a", "a"], "distinct and sorted"),
        (["ab"], "single character"),
        ([1], "single character"),
    ],
)
def test_bad_vocabularies_raise(chars, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_list(chars)


def test_from_text_and_from_list_reject_bad_input():
    with pytest.raises(ValueError, match="empty text"):
        Vocabulary.from_text("")
    with pytest.raises(TypeError, match="must be a list"):
        Vocabulary.from_list("abc")


def test_read_text_file_keeps_bytes_and_drops_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffline one\r\nlíne two\n".encode())
    assert read_text_file(path) == "line one\r\nlíne two\n"
    assert read_text_file(str(path)) == "line one\r\nlíne two\n"


def test_read_text_file_errors_name_the_path(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(ValueError, match=r"missing\.txt' does not exist"):
        read_text_file(missing)
    with pytest.raises(ValueError, match="is not a regular file"):
        read_text_file(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.txt' is empty"):
        read_text_file(empty)
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"abc\x00def")
    with pytest.raises(ValueError, match=r"data\.bin' looks binary: it has a NUL byte at offset 3"):
        read_text_file(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("abcé".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.txt' is not valid UTF-8: byte 0xe9 at offset 3"):
        read_text_file(latin)
    with pytest.raises(ValueError, match="iconv -f LATIN1 -t UTF-8"):
        read_text_file(latin)
