"""``bundle diff OLD NEW``: what changed between two bundles, read from their manifests.

One row per change, sorted by package and then by kind: a package ``added`` or ``removed``,
``upgraded`` or ``downgraded`` (versions compared as PEP 440 versions), ``rebuilt`` (the same
version, but a wheel of the same file name with other bytes: an sdist built again, or a
re-uploaded wheel), and ``license`` (its declared license changed). The Python runtime a bundle
carries (``--python-runtime``) is a row too, ``python-runtime (ARCH)``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelbundle.format.layout import read_manifest
from wheelbundle.format.manifest import Manifest, Package, Runtime

KINDS = ("added", "removed", "upgraded", "downgraded", "rebuilt", "license")


@dataclass(frozen=True)
class Change:
    package: str
    change: str
    """One of ``KINDS``."""
    old: str | None
    """The old version (the old wheel's sha256 for ``rebuilt``, license for ``license``)."""
    new: str | None
    """The new value of the same; None for an unknown license or a removed package."""
    version: str
    """The package's version(s) in NEW, or in OLD for a removed package."""


def diff_bundles(old: Path, new: Path) -> list[Change]:
    return diff_manifests(read_manifest(old), read_manifest(new))


def diff_manifests(old: Manifest, new: Manifest) -> list[Change]:
    before, after = _by_name(old.packages), _by_name(new.packages)
    changes: list[Change] = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            versions = _versions(before[name])
            changes.append(Change(name, "removed", versions, None, versions))
        elif name not in before:
            versions = _versions(after[name])
            changes.append(Change(name, "added", None, versions, versions))
        else:
            changes += _changed(name, before[name], after[name])
    changes += _runtime_changes(old, new)
    return sorted(changes, key=lambda c: (c.package, KINDS.index(c.change)))


def _changed(name: str, old: Sequence[Package], new: Sequence[Package]) -> list[Change]:
    changes = []
    old_versions, new_versions = _versions(old), _versions(new)
    if old_versions != new_versions:
        newer = _highest(new) > _highest(old)
        kind = "upgraded" if newer else "downgraded"
        changes.append(Change(name, kind, old_versions, new_versions, new_versions))
    else:
        old_wheels = {p.wheel: p.sha256 for p in old}
        for p in new:
            if p.wheel in old_wheels and old_wheels[p.wheel] != p.sha256:
                changes.append(Change(name, "rebuilt", old_wheels[p.wheel], p.sha256, p.version))
    old_licenses, new_licenses = _licenses(old), _licenses(new)
    if old_licenses != new_licenses:
        changes.append(Change(name, "license", old_licenses, new_licenses, new_versions))
    return changes


def _runtime_changes(old: Manifest, new: Manifest) -> list[Change]:
    """The interpreters the bundles carry (``--python-runtime``), one row per architecture."""
    before, after = _runtimes(old), _runtimes(new)
    changes = []
    for machine in sorted(before.keys() | after.keys()):
        label = f"python-runtime ({machine})"
        was, now = before.get(machine), after.get(machine)
        if now is None:
            assert was is not None
            changes.append(Change(label, "removed", was.python, None, was.python))
        elif was is None:
            changes.append(Change(label, "added", None, now.python, now.python))
        elif was.python != now.python:
            kind = "upgraded" if _version(now.python) > _version(was.python) else "downgraded"
            changes.append(Change(label, kind, was.python, now.python, now.python))
        elif was.sha256 != now.sha256:
            changes.append(Change(label, "rebuilt", was.sha256, now.sha256, now.python))
    return changes


def _runtimes(manifest: Manifest) -> dict[str, Runtime]:
    return {t.runtime.machine: t.runtime for t in manifest.targets if t.runtime is not None}


def _by_name(packages: Iterable[Package]) -> dict[str, list[Package]]:
    """A bundle for several targets may hold several wheels of one package."""
    grouped: dict[str, list[Package]] = defaultdict(list)
    for p in packages:
        grouped[canonicalize_name(p.name)].append(p)
    return grouped


def _versions(packages: Sequence[Package]) -> str:
    return ", ".join(sorted({p.version for p in packages}, key=_version))


def _highest(packages: Sequence[Package]) -> Version:
    return max(_version(p.version) for p in packages)


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def _licenses(packages: Sequence[Package]) -> str | None:
    known = sorted({p.license for p in packages if p.license})
    return ", ".join(known) if known else None


def diff_text(changes: Sequence[Change]) -> str:
    """One aligned row per change: ``KIND  PACKAGE  OLD -> NEW``; empty when nothing changed."""
    rows = [(c.change, c.package, _values(c)) for c in changes]
    if not rows:
        return ""
    kind_width = max(len(r[0]) for r in rows)
    name_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{k:<{kind_width}}  {n:<{name_width}}  {v}" for k, n, v in rows)


def _values(change: Change) -> str:
    if change.change == "added":
        return change.new or ""
    if change.change == "removed":
        return change.old or ""
    if change.change == "license":
        return f"{change.version}  {change.old or 'unknown'} -> {change.new or 'unknown'}"
    if change.change == "rebuilt":
        return f"{change.version}  sha256 {(change.old or '')[:12]} -> {(change.new or '')[:12]}"
    return f"{change.old} -> {change.new}"


def diff_json(old: Path, new: Path, changes: Sequence[Change]) -> str:
    return json.dumps(
        {"old": str(old), "new": str(new), "changes": [asdict(c) for c in changes]}, indent=2
    )
