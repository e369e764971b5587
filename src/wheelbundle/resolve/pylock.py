"""PEP 751 lock files, both ways: a ``pylock.toml`` as input, and one in every bundle.

A lock file is already a resolution, so an input one is never re-resolved: ``Pylock.select``
picks, for each target, the packages and the exact files its markers and tags call for, and
those become the same pins pip's report gives. The bundle's own ``pylock.toml`` describes what
``install.sh`` installs, each wheel by its path inside the bundle and its hash.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.pylock import (
    Package as LockedPackage,
)
from packaging.pylock import (
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelbundle.errors import UsageError
from wheelbundle.format.layout import wheel_member
from wheelbundle.format.manifest import Manifest, TargetEntry
from wheelbundle.format.pins import Pin
from wheelbundle.target import Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def read_pylock(path: Path) -> Pylock:
    """Parse and validate ``path``; any fault is one UsageError naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return Pylock.from_dict(data)
    except (PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise UsageError(f"{path}: not a valid pylock.toml ({exc})") from exc


def locked_pins(
    lock: Pylock,
    path: Path,
    target: Target,
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
) -> tuple[Pin, ...]:
    """What the lock installs on ``target``, as pins, files and hashes exactly as locked."""
    _check_asked(lock, path, extras, groups)
    try:
        selected = list(
            lock.select(
                environment=dict(target.markers),  # type: ignore[arg-type]
                tags=_tags(target),
                extras=extras,
                dependency_groups=groups or None,
            )
        )
    except PylockSelectError as exc:
        raise UsageError(f"{path} cannot serve {target.label or target.display}: {exc}") from exc
    return tuple(
        sorted((_pin(package, dist, path) for package, dist in selected), key=lambda p: p.name)
    )


def _check_asked(lock: Pylock, path: Path, extras: Sequence[str], groups: Sequence[str]) -> None:
    for kind, asked, known in (
        ("extra", extras, lock.extras or ()),
        ("dependency group", groups, lock.dependency_groups or ()),
    ):
        for name in asked:
            if name not in known:
                raise UsageError(
                    f"{path} has no {kind} {name!r} (it has: {', '.join(known) or 'none'})"
                )


_Dist = PackageVcs | PackageDirectory | PackageArchive | PackageWheel | PackageSdist


def _pin(package: LockedPackage, dist: _Dist, path: Path) -> Pin:
    name = canonicalize_name(package.name)
    if package.version is None:
        raise UsageError(
            f"{path}: package {name} has no version; wheelbundle needs every locked package's version"
        )
    requires = tuple(str(d["name"]) for d in package.dependencies or () if "name" in d)
    common: dict[str, Any] = {
        "name": name,
        "version": str(package.version),
        "requested": False,
        "requires": requires,
    }
    if isinstance(dist, PackageVcs):
        url = dist.url or _file_url(path, dist.path)
        return Pin(
            url=url, kind="vcs", sha256=None, vcs=dist.type, vcs_commit=dist.commit_id, **common
        )
    if isinstance(dist, PackageDirectory):
        return Pin(
            url=_file_url(path, dist.path),
            kind="dir",
            sha256=None,
            editable=bool(dist.editable),
            **common,
        )
    url = _location(dist, path)
    sha256 = dist.hashes.get("sha256")
    if sha256 is None:
        raise UsageError(
            f"{path}: {name} {package.version} has no sha256 hash; every file is checked by its sha256"
        )
    filename = getattr(dist, "name", None) or url.rsplit("/", 1)[-1]
    kind = "wheel" if filename.endswith(".whl") else "sdist"
    return Pin(url=url, kind=kind, sha256=sha256, **common)


def _location(dist: PackageArchive | PackageWheel | PackageSdist, lock: Path) -> str:
    """The file's ``path`` when it exists beside the lock (a lock inside a bundle), else its URL."""
    if (dist.path and (lock.parent / dist.path).is_file()) or not dist.url:
        return _file_url(lock, dist.path)
    return dist.url


def _file_url(lock: Path, relative: str | None) -> str:
    """A ``path`` of the lock file (relative to the file's folder) as the URL pins carry."""
    return (lock.parent / (relative or "")).resolve().as_uri()


def pylock_text(manifest: Manifest, entry: TargetEntry) -> str:
    """The bundle's lock for one target, PEP 751: every wheel by its path in the bundle."""
    wheels = set(entry.wheels)
    packages = [p for p in manifest.packages if p.wheel in wheels]
    names = {p.name for p in packages}
    lock = Pylock(
        lock_version=Version("1.0"),
        created_by="wheelbundle",
        requires_python=SpecifierSet(f"=={entry.python_version}.*"),
        packages=[
            LockedPackage(
                name=canonicalize_name(p.name),
                version=Version(p.version),
                dependencies=[{"name": n} for n in _dependency_names(p.requires, names)] or None,
                wheels=[
                    PackageWheel(
                        name=p.wheel,
                        url=p.source_url if p.origin == "index-wheel" else None,
                        path=wheel_member(p.wheel),
                        size=p.size,
                        hashes={"sha256": p.sha256},
                    )
                ],
            )
            for p in packages
        ],
    )
    lock.validate()
    return toml_text(lock.to_dict())


def pylock_wheels(text: str) -> set[tuple[str, str, str, str]]:
    """``(name, version, path, sha256)`` of every wheel a bundle's lock file names.

    Raises ValueError when the text is not a valid lock file.
    """
    try:
        lock = Pylock.from_dict(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, PylockValidationError, PylockUnsupportedVersionError) as exc:
        raise ValueError(str(exc)) from exc
    return {
        (p.name, str(p.version), w.path or "", w.hashes.get("sha256", ""))
        for p in lock.packages
        for w in p.wheels or ()
    }


def _dependency_names(requires: Iterable[str], present: set[str]) -> list[str]:
    """The bundled packages among ``Requires-Dist`` (a marker may leave some out)."""
    names = set()
    for text in requires:
        try:
            name = canonicalize_name(Requirement(text).name)
        except InvalidRequirement:
            continue
        if name in present:
            names.add(name)
    return sorted(names)


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for what a lock file holds: scalars, inline tables, and top-level arrays of tables.

    The standard library reads TOML but does not write it; this is the small part we need.
    """
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not _is_table_array(v)]
    for key, value in data.items():
        if _is_table_array(value):
            for table in value:
                lines += ["", f"[[{_key(key)}]]"]
                lines += [f"{_key(k)} = {_value(v, multiline=True)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any, multiline: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        if multiline and value:
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, DEL aside."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _tags(target: Target) -> list[Tag]:
    return [tag for text in target.tags for tag in parse_tag(text)]
