"""``uv.lock``: uv's universal lock (format version 1).

A universal lock holds every package any environment may need; what one target installs is
found as uv finds it, by walking the dependency edges from the project (its extras and groups
when asked) and keeping each edge whose marker the target meets. Where the lock forked (two
versions of one package for different environments), an edge names the version, else the
package's ``resolution-markers`` pick it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from wheelbundle.errors import UsageError
from wheelbundle.resolve.locks.model import (
    Locked,
    applies,
    check_version,
    load_toml,
    project_table,
    sha256s,
    unknown,
)

_TREES = ("editable", "directory", "virtual")
"""Sources that are a folder beside the lock: a project or workspace member (``virtual``: one
that is not itself installed)."""


def read(path: Path) -> UvLock:
    data = load_toml(path)
    check_version(path, "uv", str(data.get("version", "?")), ["1"], "run 'uv lock'")
    packages = data.get("package", [])
    return UvLock(path, f"{data['version']} (revision {data.get('revision', 0)})", packages)


@dataclass(frozen=True)
class UvLock:
    path: Path
    version: str
    packages: list[dict[str, Any]]
    tool: str = "uv"

    @property
    def indexes(self) -> tuple[str, ...]:
        found = (str(p["source"]["registry"]) for p in self.packages if "registry" in p["source"])
        return tuple(dict.fromkeys(found))

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        root = self._root()
        unknown(self.path, "extra", extras, root.get("optional-dependencies", {}))
        unknown(self.path, "dependency group", groups, root.get("dev-dependencies", {}))
        edges = list(root.get("dependencies", []))
        edges += [e for x in extras for e in _named(root.get("optional-dependencies", {}), x)]
        edges += [e for g in groups for e in _named(root.get("dev-dependencies", {}), g)]
        chosen: dict[str, dict[str, Any]] = {root["name"]: root}
        asked: set[tuple[str, str]] = set()
        queue = deque(edges)
        while queue:
            edge = queue.popleft()
            if not applies(edge.get("marker"), environment):
                continue
            package = self._package(edge, environment)
            name = str(package["name"])
            new = name not in chosen
            chosen[name] = package
            for extra in edge.get("extra", []):
                if (name, extra) not in asked:
                    asked.add((name, extra))
                    queue.extend(package.get("optional-dependencies", {}).get(extra, []))
            if new:
                queue.extend(package.get("dependencies", []))
        return tuple(
            sorted(
                (locked for p in chosen.values() if (locked := self._locked(p)) is not None),
                key=lambda p: p.name,
            )
        )

    def stale(self) -> str | None:
        """uv records the requirements it locked (``[package.metadata]``): the project's own
        must still be those."""
        project = project_table(self.path.parent).get("project", {})
        root = self._root()
        recorded = root.get("metadata", {})
        declared = list(project.get("dependencies", []))
        for extra, requirements in project.get("optional-dependencies", {}).items():
            declared += [f"{r} ; extra == '{extra}'" for r in requirements]
        if _requirements(declared, self.path) != {
            _edge_key(r) for r in recorded.get("requires-dist", [])
        }:
            return "its project's dependencies changed since it was locked"
        return None

    def _root(self) -> dict[str, Any]:
        for package in self.packages:
            source = package.get("source", {})
            if any(source.get(kind) == "." for kind in _TREES):
                return package
        raise UsageError(
            f"{self.path}: no project at '.' in the lock; run 'uv lock' in the project"
        )

    def _package(self, edge: Mapping[str, Any], environment: Mapping[str, str]) -> dict[str, Any]:
        name = canonicalize_name(str(edge["name"]))
        versions = [p for p in self.packages if canonicalize_name(p["name"]) == name]
        if "version" in edge:
            versions = [p for p in versions if p.get("version") == edge["version"]]
        if len(versions) > 1:
            versions = [
                p
                for p in versions
                if any(applies(m, environment) for m in p.get("resolution-markers", [""]))
            ]
        if not versions:
            raise UsageError(f"{self.path}: {name} is needed but not in the lock; run 'uv lock'")
        return versions[0]

    def _locked(self, package: Mapping[str, Any]) -> Locked | None:
        source = package.get("source", {})
        name, version = canonicalize_name(package["name"]), str(package.get("version", ""))
        if "virtual" in source:
            return None
        for kind in ("editable", "directory"):
            if kind in source:
                return Locked(name, version, tree=(self.path.parent / source[kind]).resolve())
        if "registry" not in source:
            raise UsageError(
                f"{self.path}: {name} comes from {', '.join(source)}, which this version does not "
                "bundle from a uv.lock; export the lock ('uv export --format pylock.toml') and "
                "bundle that"
            )
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        return Locked(name, version, sha256s(str(f.get("hash", "")) for f in files))


def _named(table: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    wanted = canonicalize_name(name)
    return next((list(v) for k, v in table.items() if canonicalize_name(k) == wanted), [])


def _edge_key(entry: Mapping[str, Any]) -> tuple[str, SpecifierSet, frozenset[str]]:
    extras = frozenset(canonicalize_name(e) for e in entry.get("extras", []))
    return canonicalize_name(entry["name"]), SpecifierSet(entry.get("specifier", "")), extras


def _requirements(
    lines: Sequence[str], path: Path
) -> set[tuple[str, SpecifierSet, frozenset[str]]]:
    """Requirements as uv records them, markers aside (uv rewrites them in its own words)."""
    keys: set[tuple[str, SpecifierSet, frozenset[str]]] = set()
    for line in lines:
        try:
            r = Requirement(line)
        except InvalidRequirement as exc:
            raise UsageError(f"{path.parent / 'pyproject.toml'}: {line!r}: {exc}") from exc
        keys.add(
            (canonicalize_name(r.name), r.specifier, frozenset(map(canonicalize_name, r.extras)))
        )
    return keys
