"""OSV advisories (the format osv.dev publishes, one JSON file per advisory, each ecosystem as
one zip; the PyPA's advisory repository keeps the same records as YAML): read as a stream,
keeping only what affects the packages asked about.

An air-gapped site mirrors ``PyPI/all.zip`` and checks bundles against that copy, so the
database is read from a file, never fetched. A zip of 100 MB holds some 20,000 advisories; each
is read, parsed and dropped unless it names one of the packages, so memory stays that of one
advisory (and the matches).

A source that holds no PyPI advisory is refused, never read as a clean bill: an empty folder, a
zip of something else, another ecosystem's export. What was read (how many advisories, the
newest change, the zip's sha256) is the :class:`Snapshot` a verdict is recorded with.
"""

from __future__ import annotations

import datetime
import functools
import json
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cvss import CVSS3, CVSS4, CVSSError
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelbundle.cache import sha256_file
from wheelbundle.errors import UsageError

MAX_ADVISORY = 4 << 20
"""More than any advisory: a larger member is not read (one a hostile zip inflates)."""
RATINGS = ("unknown", "none", "low", "medium", "high", "critical")
"""CVSS's qualitative ratings from least to most severe, ``unknown`` below them all; an
advisory's word is one of them (GitHub's ``moderate`` is ``medium``)."""
_DOCUMENTS = (".json", ".yaml", ".yml")
_FIX = "give osv.dev's PyPI/all.zip, or a folder of OSV JSON or YAML files"


@functools.total_ordering
@dataclass(frozen=True)
class Severity:
    """How severe an advisory says it is: a CVSS vector scored, else its database's word."""

    rank: int
    """The rating's place in :data:`RATINGS`: severities compare by it, then by score (a
    database's word without a score below any score of its rating)."""
    score: float | None = None
    vector: str | None = None

    @property
    def rating(self) -> str:
        return RATINGS[self.rank]

    def __lt__(self, other: Severity) -> bool:
        return self._order() < other._order()

    def _order(self) -> tuple[int, float]:
        return self.rank, -1.0 if self.score is None else self.score

    def __str__(self) -> str:
        return self.rating if self.score is None else f"{self.rating} {self.score:.1f}"


UNKNOWN_SEVERITY = Severity(0)


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
    severity: Severity

    def affects(self, version: str) -> bool:
        """The version is listed (as PEP 440 compares them: Django's ``3.2`` is ``3.2.0``), or
        within a range."""
        if version in self.versions:
            return True
        try:
            v = Version(version)
        except InvalidVersion:
            return False
        listed = (_version(text) for text in self.versions)
        return any(v == at for at in listed) or any(_in_range(v, r) for r in self.ranges)

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(value for r in self.ranges for kind, value in r if kind == "fixed")
        )


@dataclass(frozen=True)
class Snapshot:
    """Which copy of the database a verdict rests on: recorded beside it, so that a reviewer
    can tell an audit against yesterday's export from one against last year's."""

    source: str
    advisories: int
    """PyPI advisories read (withdrawn ones included)."""
    newest: str | None
    """The newest ``modified`` among them, ``YYYY-MM-DDTHH:MM:SSZ``."""
    sha256: str | None
    """The zip's; None for a folder."""

    def describe(self) -> str:
        """``2661 PyPI advisories, newest 2026-12-01T09:12:00Z, zip sha256 …``, one line."""
        parts = [f"{self.advisories} PyPI advisories", f"newest {self.newest or 'undated'}"]
        if self.sha256:
            parts.append(f"sha256 {self.sha256}")
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "advisories": self.advisories,
            "newest": self.newest,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Database:
    """An OSV source, read: the advisories about the packages asked for, and what was read."""

    advisories: tuple[Advisory, ...]
    snapshot: Snapshot


def read_osv(
    path: Path,
    packages: Iterable[str],
    max_age: int | None = None,
    today: datetime.date | None = None,
) -> Database:
    """Every advisory in ``path`` (an OSV zip, or a folder of OSV JSON or YAML files) about one
    of ``packages`` in the PyPI ecosystem, withdrawn ones left out. A source with no PyPI
    advisory at all, or (``max_age`` days) none changed lately, is refused."""
    require_source(path)
    wanted: set[str] = {canonicalize_name(p) for p in packages}
    found: list[Advisory] = []
    ecosystems: Counter[str] = Counter()
    read = pypi = 0
    newest: datetime.datetime | None = None
    horizon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    for name, data in _documents(path):
        record = _record(path, name, data)
        if not isinstance(record, dict):
            continue
        read += 1
        here = {_ecosystem(a) for a in _list(record, "affected") if isinstance(a, dict)}
        ecosystems.update(here)
        if "PyPI" not in here:
            continue
        pypi += 1
        changed = _when(record.get("modified"))
        if changed and changed <= horizon and (newest is None or changed > newest):
            newest = changed  # a date in the future says nothing of how fresh the copy is
        if not record.get("withdrawn"):
            found.extend(_about(record, wanted))
    if not pypi:
        raise UsageError(f"--osv {path}: {_nothing_for_pypi(read, ecosystems)}; {_FIX}")
    snapshot = Snapshot(
        str(path),
        pypi,
        newest.strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None,
        None if path.is_dir() else sha256_file(path),
    )
    if max_age is not None:
        _check_age(path, newest, max_age, today or datetime.date.today())
    return Database(tuple(found), snapshot)


def require_source(path: Path) -> None:
    """A source that is not there is named before anything else is done with it."""
    if not path.exists():
        raise UsageError(f"--osv {path}: no such file or folder; give osv.dev's PyPI/all.zip")


def _nothing_for_pypi(read: int, ecosystems: Counter[str]) -> str:
    if not read:
        return "holds no OSV advisory (no .json, .yaml or .yml file in it)"
    named = ", ".join(e for e, _ in ecosystems.most_common(3) if e)
    about = f"they are about {named}" if named else "none names a package's ecosystem"
    return f"holds {read} JSON or YAML records, and no PyPI advisory among them ({about})"


def _check_age(
    path: Path, newest: datetime.datetime | None, days: int, today: datetime.date
) -> None:
    if newest is None:
        raise UsageError(
            f"--osv {path}: no advisory in it carries a date, so --osv-max-age {days} cannot "
            "be met; mirror a copy of the database with its dates"
        )
    if (age := (today - newest.date()).days) > days:
        raise UsageError(
            f"--osv {path}: the newest advisory was last changed {age} days ago, more than "
            f"--osv-max-age {days}; mirror a newer copy of the database"
        )


def _record(path: Path, name: str, data: bytes) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(data)
        return yaml.safe_load(data)
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise UsageError(f"--osv {path}: {name} is not an OSV advisory ({exc})") from exc


def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.is_dir():  # a clone of an advisory repository: its .git and .github are not read
        for file in sorted(path.rglob("*")):
            name = file.relative_to(path)
            if file.suffix not in _DOCUMENTS or any(p.startswith(".") for p in name.parts):
                continue
            if file.is_file():
                _bounded(path, str(name), file.stat().st_size)
                yield str(name), file.read_bytes()
        return
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(_DOCUMENTS):
                    _bounded(path, info.filename, info.file_size)
                    with zf.open(info) as member:
                        data = member.read(MAX_ADVISORY + 1)  # a size the zip understated
                    _bounded(path, info.filename, len(data))
                    yield info.filename, data
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"--osv {path}: not an OSV zip or folder ({exc}); {_FIX}") from exc


def _bounded(path: Path, name: str, size: int) -> None:
    """An advisory larger than any real one is refused, not passed over: a record skipped in
    silence could be the one that names a bundled package."""
    if size > MAX_ADVISORY:
        raise UsageError(
            f"--osv {path}: {name} is {size} bytes, more than any advisory ({MAX_ADVISORY >> 20} "
            "MB); not read, and the source is not used"
        )


def _ecosystem(affected: Mapping[str, Any]) -> str:
    package = affected.get("package")
    ecosystem = package.get("ecosystem", "") if isinstance(package, Mapping) else ""
    return str(ecosystem).split(":")[0]


def _when(value: Any) -> datetime.datetime | None:
    """An OSV timestamp (RFC 3339; YAML reads one as a datetime already), in UTC."""
    if isinstance(value, datetime.datetime):
        when = value
    else:
        try:
            when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def _about(record: Mapping[str, Any], wanted: set[str]) -> Iterator[Advisory]:
    for affected in _list(record, "affected"):
        if not isinstance(affected, dict) or _ecosystem(affected) != "PyPI":
            continue
        name = canonicalize_name(str((affected.get("package") or {}).get("name", "")))
        if name not in wanted:
            continue
        yield Advisory(
            id=str(record.get("id", "")),
            aliases=tuple(str(a) for a in _list(record, "aliases")),
            summary=_summary(record),
            package=name,
            ranges=tuple(
                tuple(_events(_list(r, "events")))
                for r in _list(affected, "ranges")
                if isinstance(r, dict) and r.get("type") == "ECOSYSTEM"
            ),
            versions=tuple(str(v) for v in _list(affected, "versions")),
            severity=severity_of(record, affected),
        )


def _summary(record: Mapping[str, Any]) -> str:
    """The advisory's one line: its summary, else the first sentence of its details (PYSEC
    records have only those, a paragraph or more)."""
    if summary := str(record.get("summary") or "").strip():
        return summary.splitlines()[0]
    details = " ".join(str(record.get("details") or "").split())
    sentence = details.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 160 else sentence[:157].rstrip() + "…"


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    """A list the schema promises; anything else (a hostile or broken record) is empty."""
    value = record.get(key)
    return value if isinstance(value, list) else []


def _events(events: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if isinstance(event, Mapping) and kind in event:
                yield kind, str(event[kind])


def _in_range(version: Version, events: Sequence[tuple[str, str]]) -> bool:
    """OSV's rule for an ``ECOSYSTEM`` range: affected from each ``introduced`` until the next
    ``fixed`` (excluded) or ``last_affected`` (included), the events in version order."""
    readable = [e for e in events if e[0] == "introduced" or _parses(e[1])]  # a bound that does
    ordered = sorted(readable, key=lambda e: (_version(e[1]), e[0] != "introduced"))  # not end it
    affected = False
    for kind, value in ordered:
        at = _version(value)
        if kind == "introduced" and version >= at:
            affected = True
        elif (kind == "fixed" and version >= at) or (kind == "last_affected" and version > at):
            affected = False
    return affected


def _parses(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _version(text: str) -> Version:
    if text == "0":
        return Version("0")
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def severity_of(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Severity:
    """The highest a CVSS v3.x or v4.0 vector of the advisory scores (its base score and
    rating), else its database's word (``database_specific.severity``), else unknown."""
    scored = [s for s in map(_scored, _list(record, "severity")) if s is not None]
    if scored:
        return max(scored)
    for source in (affected.get("database_specific"), record.get("database_specific")):
        if isinstance(source, Mapping) and (word := rating_of(str(source.get("severity", "")))):
            return Severity(RATINGS.index(word))
    return UNKNOWN_SEVERITY


def rating_of(word: str) -> str | None:
    """A rating from an advisory's or a policy's word; None for none of them."""
    word = {"moderate": "medium"}.get(word.lower(), word.lower())
    return word if word in RATINGS and word != "unknown" else None


def _scored(entry: Any) -> Severity | None:
    vector = str(entry.get("score", "")) if isinstance(entry, Mapping) else ""
    try:
        if vector.startswith("CVSS:3."):
            v3 = CVSS3(vector)
            score, word = float(v3.scores()[0]), str(v3.severities()[0])
        elif vector.startswith("CVSS:4.0/"):
            v4 = CVSS4(vector)
            score, word = float(v4.base_score), str(v4.severity)
        else:  # CVSS v2 (no ratings of its own) or another scheme: the word decides
            return None
    except (CVSSError, ValueError, KeyError, IndexError):  # a malformed vector is no score
        return None
    rating = rating_of(word)
    return None if rating is None else Severity(RATINGS.index(rating), score, vector)
