"""Locks other tools wrote (uv, Poetry, PDM, Pipenv), read as locks: never re-resolved.

Each format has a module of its own that reads its file with the standard library and
``packaging`` and selects, for one target, what the tool itself would install there
(:class:`~wheelbundle.resolve.locks.model.Lock`). What is selected goes through the same road as
a hash-pinned requirements file (``resolver``): each file found by its locked hash, every byte
checked. A ``pylock.toml`` is PEP 751's and ``packaging``'s (``resolve.pylock``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.errors import UsageError
from wheelbundle.inputs.sources import LOCK_TOOLS, RELOCK
from wheelbundle.resolve.locks import pdm, pipenv, poetry, uv
from wheelbundle.resolve.locks.model import Lock, Locked

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
    with _well_formed(path, tool):
        return _Guarded(_READERS[tool](path))


@contextmanager
def _well_formed(path: Path, tool: str) -> Iterator[None]:
    """A lock of the right name and version but the wrong shape (a key missing, a table where
    a string belongs) is one error naming it, never a traceback."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise UsageError(
            f"{path}: not a valid {tool} lock ({type(exc).__name__}: {exc}); lock it again "
            f"('{RELOCK[tool]}')"
        ) from exc


@dataclass(frozen=True)
class _Guarded:
    """A lock whose every reading is :func:`_well_formed`."""

    lock: Lock

    @property
    def path(self) -> Path:
        return self.lock.path

    @property
    def tool(self) -> str:
        return self.lock.tool

    @property
    def version(self) -> str:
        return self.lock.version

    @property
    def indexes(self) -> tuple[str, ...]:
        with _well_formed(self.path, self.tool):
            return self.lock.indexes

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        with _well_formed(self.path, self.tool):
            return self.lock.select(environment, extras, groups)

    def stale(self) -> str | None:
        with _well_formed(self.path, self.tool):
            return self.lock.stale()
