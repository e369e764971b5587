"""The bundle's own ``pylock.toml`` (PEP 751): written for each target, read back by ``verify``.

It describes what ``install.sh`` installs, each wheel by its path inside the bundle and its
hash. The TOML writer is here too: the standard library reads TOML but does not write it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.pylock import (
    Package as LockedPackage,
)
from packaging.pylock import (
    PackageWheel,
    Pylock,
    PylockUnsupportedVersionError,
    PylockValidationError,
)
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelbundle.format import toml
from wheelbundle.format.layout import wheel_member
from wheelbundle.format.manifest import Manifest, TargetEntry

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


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
        lock = Pylock.from_dict(toml.loads(text))
    except (toml.TOMLDecodeError, PylockValidationError, PylockUnsupportedVersionError) as exc:
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
