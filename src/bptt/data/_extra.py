"""Locate data files shipped inside the packages of the optional ``timeseries`` extra.

The loaders in :mod:`bptt.data.timeseries`, :mod:`bptt.data.ucr` and :mod:`bptt.data.digits`
read the CSV / ``.ts`` files that ``statsmodels``, ``aeon`` and ``scikit-learn`` install into
site-packages. They find them with ``importlib.util.find_spec``, which does not import the
package: nothing is downloaded, no package code runs, and ``aeon``'s import-time dependencies
(numba, pandas) are not needed at all.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bptt.errors import BpttError, MissingExtraError

INSTALL_HINT = "Install the optional extra with `pip install 'bptt[timeseries]'`."


def package_file(package: str, *parts: str, purpose: str) -> Path:
    """The path of a data file inside an installed package, found without importing it.

    Args:
        package: the import name, e.g. "statsmodels".
        parts: path components below the package folder, e.g. ("datasets", "co2", "co2.csv").
        purpose: what needs the file, for the error message (e.g. "The co2 series").

    Returns:
        The path of the existing file.

    Raises:
        ImportError: if ``package`` is not installed (the message names the install command).
        ValueError: if the package is installed but the file is not in it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise MissingExtraError(f"{purpose} needs the package `{package}`. {INSTALL_HINT}")
    if spec.submodule_search_locations:
        roots = [Path(p) for p in spec.submodule_search_locations]
    else:
        roots = [Path(spec.origin).parent] if spec.origin else []
    for root in roots:
        path = root.joinpath(*parts)
        if path.is_file():
            return path
    where = ", ".join(str(r) for r in roots) or "<unknown location>"
    raise BpttError(
        f"{purpose} needs the file {'/'.join(parts)!r} inside the installed `{package}` "
        f"({where}), but it is not there. {INSTALL_HINT} (it pins the versions whose data "
        "these loaders were checked against)."
    )
