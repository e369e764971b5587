"""A PEP 751 ``pylock.toml`` given as input: a resolution already, so never re-resolved.

``Pylock.select`` picks, for each target, the packages and the exact files its markers and tags
call for, and those become the same pins pip's report gives. The bundle's own ``pylock.toml`` is
``format.pylock``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name

from wheelbundle.errors import UsageError
from wheelbundle.format import toml
from wheelbundle.format.pins import Pin
from wheelbundle.target import Target


def read_pylock(path: Path) -> Pylock:
    """Parse and validate ``path``; any fault is one UsageError naming the file."""
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TOMLDecodeError, UnicodeDecodeError) as exc:
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
    version = package.version or (
        _tree_version(path, dist.path) if isinstance(dist, PackageDirectory) else None
    )
    if version is None:
        raise UsageError(
            f"{path}: package {name} has no version; wheelbundle needs every locked package's version"
        )
    requires = tuple(str(d["name"]) for d in package.dependencies or () if "name" in d)
    common: dict[str, Any] = {
        "name": name,
        "version": str(version),
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


def _tree_version(lock: Path, relative: str | None) -> str | None:
    """A directory entry's version, which PEP 751 leaves out: its project's static version."""
    pyproject = lock.parent / (relative or "") / "pyproject.toml"
    try:
        version = (
            toml.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("version")
        )
    except (OSError, UnicodeDecodeError, toml.TOMLDecodeError):
        return None
    return str(version) if version else None


def _location(dist: PackageArchive | PackageWheel | PackageSdist, lock: Path) -> str:
    """The file's ``path`` when it exists beside the lock (a lock inside a bundle), else its URL."""
    if (dist.path and (lock.parent / dist.path).is_file()) or not dist.url:
        return _file_url(lock, dist.path)
    return dist.url


def _file_url(lock: Path, relative: str | None) -> str:
    """A ``path`` of the lock file (relative to the file's folder) as the URL pins carry."""
    return (lock.parent / (relative or "")).resolve().as_uri()


def _tags(target: Target) -> list[Tag]:
    return [tag for text in target.tags for tag in parse_tag(text)]
