"""Locks other tools wrote (uv, Poetry, PDM, Pipenv), read as locks: never re-resolved.

Each format has a module of its own that reads its file with the standard library and
``packaging`` and selects, for one target, what the tool itself would install there
(:class:`~wheelbundle.resolve.locks.model.Lock`). What is selected goes through the same road as
a hash-pinned requirements file (``resolver``): each file found by its locked hash, every byte
checked. A ``pylock.toml`` is PEP 751's and ``packaging``'s (``resolve.pylock``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from wheelbundle.errors import UsageError
from wheelbundle.inputs.sources import LOCK_TOOLS
from wheelbundle.resolve.locks import pdm, pipenv, poetry, uv
from wheelbundle.resolve.locks.model import Lock

_READERS: dict[str, Callable[[Path], Lock]] = {
    "uv": uv.read,
    "poetry": poetry.read,
    "pdm": pdm.read,
    "pipenv": pipenv.read,
}


def read_lock(path: Path) -> Lock:
    """The lock at ``path``, by the tool its file name says wrote it."""
    tool = LOCK_TOOLS.get(path.name)
    if tool is None:  # pragma: no cover - inputs only hand over the names it knows
        raise UsageError(f"{path}: not a lock file this version reads")
    return _READERS[tool](path)
