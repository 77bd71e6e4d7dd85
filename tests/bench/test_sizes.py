"""bptt.bench.sizes: the text forms of sizes and checkpointing budgets."""

import pytest

from bptt.bench import BenchConfig, parse_budgets, parse_config


def test_parse_config():
    assert parse_config("32,100,64,128") == BenchConfig(32, 100, 64, 128)
    with pytest.raises(ValueError, match="four positive integers B,T,D,H, got '32,100'"):
        parse_config("32,100")


def test_parse_budgets():
    assert parse_budgets("sqrt,50") == ("sqrt", 50)
    assert parse_budgets(" 7 ") == (7,)
    for text in ("sqrt,0", "50MiB", "sqrt,", "-3"):
        with pytest.raises(ValueError, match="'sqrt' or a number of stored states >= 1"):
            parse_budgets(text)
