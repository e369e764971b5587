"""What every lock format gives the resolver: the packages it locks for one target."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from wheelbundle.errors import UsageError
from wheelbundle.format import toml


@dataclass(frozen=True)
class Locked:
    """One package as the lock pins it for a target: a file from an index (by its hashes), or a
    source tree (the project itself, a workspace member, a path) that pip builds."""

    name: str
    version: str
    sha256s: frozenset[str] = frozenset()
    """The sha256 of every file the lock allows for it; the target's tags pick among them."""
    tree: Path | None = None
    """A source tree to build instead (``sha256s`` is then empty)."""


class Lock(Protocol):
    """A lock file of one tool, read."""

    @property
    def path(self) -> Path: ...

    @property
    def tool(self) -> str:
        """``uv``, ``poetry``, ``pdm`` or ``pipenv``."""

    @property
    def version(self) -> str:
        """The lock format's version, as the file states it."""

    @property
    def indexes(self) -> tuple[str, ...]:
        """The indexes the lock was made from, for a run that names none."""

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        """What the tool would install in ``environment`` with these extras and groups."""

    def stale(self) -> str | None:
        """Why the lock no longer matches its project, or None when it does."""


def load_toml(path: Path) -> dict[str, Any]:
    try:
        return toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, toml.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it as TOML ({exc})") from exc


def load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a lock (its JSON is not an object)")
    return data


def check_version(path: Path, tool: str, found: str, known: Iterable[str], relock: str) -> None:
    """A format version newer than this reader knows is refused, never half-read."""
    major = found.split(".")[0]
    if major not in set(known):
        raise UsageError(
            f"{path}: {tool} lock format {found} is not one this version of wheelbundle reads "
            f"(it reads {', '.join(sorted(set(known)))}); {relock} with a {tool} that writes it, or "
            f"export a hash-pinned requirements file or a pylock.toml and bundle that"
        )


def applies(marker: str | None, environment: Mapping[str, str], extras: Iterable[str] = ()) -> bool:
    """A marker's verdict in ``environment``, with any of ``extras`` active (none: ``""``)."""
    if not marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker as exc:
        raise UsageError(f"a lock's marker {marker!r} is not valid ({exc})") from exc
    return any(parsed.evaluate({**environment, "extra": e}) for e in (*extras, ""))


def content_hash(data: object, compact: bool = False) -> str:
    """The sha256 of ``data`` as JSON with sorted keys: how Poetry, PDM and Pipenv each hash the
    part of a project file their lock was made from (Pipenv with compact separators)."""
    separators = (",", ":") if compact else None
    text = json.dumps(data, sort_keys=True, separators=separators)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def project_table(folder: Path) -> dict[str, Any]:
    """The project's ``pyproject.toml`` beside its lock, or nothing when there is none."""
    path = folder / "pyproject.toml"
    return load_toml(path) if path.is_file() else {}


def own_project(folder: Path, project: Mapping[str, Any], installed: bool = True) -> Locked | None:
    """The project a lock was made for, which Poetry, PDM and Pipenv leave out of it: built from
    its folder when it is a package (a build system, or a setup.py) and its tool installs it."""
    if not installed or not ("build-system" in project or (folder / "setup.py").is_file()):
        return None
    table = project.get("project") or project.get("tool", {}).get("poetry", {})
    name = canonicalize_name(str(table.get("name", folder.resolve().name)))
    return Locked(name, str(table.get("version", "")), tree=folder.resolve())


def sha256s(hashes: Iterable[str]) -> frozenset[str]:
    """``sha256:HEX`` entries, as locks write them, to their digests."""
    return frozenset(h.partition(":")[2] for h in hashes if h.startswith("sha256:"))


def unknown(path: Path, kind: str, asked: Iterable[str], known: Iterable[str]) -> None:
    """An ``--extra`` or ``--group`` the lock does not have: named, with the ones it has."""
    have = sorted({canonicalize_name(k) for k in known})
    for name in asked:
        if canonicalize_name(name) not in have:
            raise UsageError(f"{path} has no {kind} {name!r} (it has: {', '.join(have) or 'none'})")
