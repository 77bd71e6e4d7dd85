"""The tree shows the architecture: imports flow one way, from the math up to the command line.

types/errors -> cells -> kernels -> engine -> model -> window -> diagnostics, train -> export
-> cli;
optim, losses and data sit beside the core and depend only on types and errors. A module may
import its own package and anything in a lower layer, never a higher one.
"""

import ast
from pathlib import Path

import pytest

import bptt

ROOT = Path(bptt.__file__).parent

LAYERS = {
    "types": 0,
    "errors": 0,
    "threads": 1,
    "optim": 1,
    "losses": 1,
    "data": 1,
    "cells": 1,
    "interop": 2,
    "kernels": 2,
    "engine": 3,
    "model": 4,
    "generate": 5,
    "forecast": 5,
    "stream": 5,
    "testing": 5,
    "window": 5,
    "diagnostics": 6,
    "online": 6,
    "train": 7,
    "bench": 7,
    "export": 8,
    "sklearn": 8,
    "cli": 9,
    "__main__": 10,  # python -m bptt
}


def top_package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "bptt" and len(parts) > 1 else None


def imports(path: Path) -> set[str]:
    """The bptt sub-packages and modules a file imports (at any depth, lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(top_package(node.module))
        elif isinstance(node, ast.Import):
            found.update(top_package(alias.name) for alias in node.names)
    return found - {None}


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    own = path.relative_to(ROOT).parts[0].removesuffix(".py")
    assert own in LAYERS, f"{own} has no layer in this test; add it"
    upward = {name for name in imports(path) if name != own and LAYERS[name] >= LAYERS[own]}
    assert not upward, f"{own} imports {sorted(upward)}, which are not below it"


def test_test_files_have_unique_names():
    """pytest imports test files by their base name (no packages under tests/): two files
    of the same name in different folders break the collection."""
    names = [p.name for p in Path(__file__).parent.rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
