"""The exceptions a user's mistake raises, and nothing else.

Every error that a caller can cause with the values they pass (a shape, a setting, a file, a
missing optional package) is one of these types; each is also the built-in exception a Python
caller would expect (``BpttError`` is a ValueError, ``BpttTypeError`` also a TypeError, ...),
so ``except ValueError`` keeps working. The command line maps exactly these types to one line
on stderr and exit code 2; any other exception is a bug in bptt and keeps its traceback.
"""

from __future__ import annotations


class BpttError(ValueError):
    """A value the caller gave cannot be used; the message says which, why and what to do."""


class BpttTypeError(BpttError, TypeError):
    """A value of the wrong type (an integer array where floats are needed, ...)."""


class BpttFileNotFoundError(BpttError, FileNotFoundError):
    """A file or directory the caller named does not exist (or holds no checkpoint)."""


class BpttPermissionError(BpttError, PermissionError):
    """A file or directory the caller named cannot be written."""


class BpttStorageError(BpttError, OSError):
    """A file could not be written or read back (a full disk, a read-only file system); the
    message names what is intact and how to go on."""


class MissingExtraError(BpttError, ImportError):
    """An optional package is needed for what was asked; the message names the pip extra."""


__all__ = [
    "BpttError",
    "BpttFileNotFoundError",
    "BpttPermissionError",
    "BpttStorageError",
    "BpttTypeError",
    "MissingExtraError",
]
