"""OSV advisories (the format osv.dev publishes, one JSON file per advisory, each ecosystem as
one zip): read as a stream, keeping only what affects the packages asked about.

An air-gapped site mirrors ``PyPI/all.zip`` and checks bundles against that copy, so the
database is read from a file, never fetched. A zip of 100 MB holds some 20,000 advisories; each
is read, parsed and dropped unless it names one of the packages, so memory stays that of one
advisory (and the matches).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelbundle.errors import UsageError

MAX_ADVISORY = 4 << 20
"""More than any advisory: a larger member is not read (one a hostile zip inflates)."""


@dataclass(frozen=True)
class Advisory:
    """What one advisory says of one package."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    package: str
    """Canonical name."""
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    """Each ``ECOSYSTEM`` range's events, in order: (``introduced``/``fixed``/``last_affected``,
    version)."""
    versions: tuple[str, ...]
    """Versions listed as affected."""
    severity: str | None
    """As the advisory gives it: its database's word (``HIGH``), else a CVSS vector."""

    def affects(self, version: str) -> bool:
        if version in self.versions:
            return True
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        return any(_in_range(v, events) for events in self.ranges)

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(value for r in self.ranges for kind, value in r if kind == "fixed")
        )


def read_advisories(path: Path, packages: Iterable[str]) -> Iterator[Advisory]:
    """Every advisory in ``path`` (an OSV zip, or a folder of OSV JSON files) about one of
    ``packages`` in the PyPI ecosystem, withdrawn ones left out."""
    wanted: set[str] = {canonicalize_name(p) for p in packages}
    for name, data in _documents(path):
        try:
            record = json.loads(data)
        except ValueError as exc:
            raise UsageError(f"{path}: {name} is not OSV JSON ({exc})") from exc
        if isinstance(record, dict) and not record.get("withdrawn"):
            yield from _about(record, wanted)


def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            if file.stat().st_size <= MAX_ADVISORY:
                yield str(file.relative_to(path)), file.read_bytes()
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".json") and info.file_size <= MAX_ADVISORY:
                    with zf.open(info) as member:
                        yield info.filename, member.read(MAX_ADVISORY + 1)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(
            f"--osv {path}: not an OSV zip or folder ({exc}); give osv.dev's PyPI/all.zip or a "
            "folder of OSV JSON files"
        ) from exc


def _about(record: Mapping[str, Any], wanted: set[str]) -> Iterator[Advisory]:
    for affected in record.get("affected") or ():
        package = affected.get("package") or {}
        if str(package.get("ecosystem", "")).split(":")[0] != "PyPI":
            continue
        name = canonicalize_name(str(package.get("name", "")))
        if name not in wanted:
            continue
        yield Advisory(
            id=str(record.get("id", "")),
            aliases=tuple(str(a) for a in record.get("aliases") or ()),
            summary=str(record.get("summary") or record.get("details") or "").split("\n")[0],
            package=name,
            ranges=tuple(
                tuple(_events(r.get("events") or ()))
                for r in affected.get("ranges") or ()
                if r.get("type") == "ECOSYSTEM"
            ),
            versions=tuple(str(v) for v in affected.get("versions") or ()),
            severity=_severity(record, affected),
        )


def _events(events: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                yield kind, str(event[kind])


def _in_range(version: Version, events: Sequence[tuple[str, str]]) -> bool:
    """OSV's rule for an ``ECOSYSTEM`` range: affected from each ``introduced`` until the next
    ``fixed`` (excluded) or ``last_affected`` (included), the events in version order."""
    ordered = sorted(events, key=lambda e: (_version(e[1]), e[0] != "introduced"))
    affected = False
    for kind, value in ordered:
        at = _version(value)
        if kind == "introduced" and version >= at:
            affected = True
        elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
            affected = False
    return affected


def _version(text: str) -> Version:
    if text == "0":
        return Version("0")
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def _severity(record: Mapping[str, Any], affected: Mapping[str, Any]) -> str | None:
    for source in (affected.get("database_specific"), record.get("database_specific")):
        if isinstance(source, Mapping) and source.get("severity"):
            return str(source["severity"]).upper()
    for entry in record.get("severity") or ():
        if isinstance(entry, Mapping) and entry.get("score"):
            return str(entry["score"])
    return None
