"""``poetry.lock`` (lock format 2.1 and later, Poetry 2): each package says which groups need it
and under which marker (``extra == "…"`` for an extra), relative to the project, so a target's
selection is a filter. Files are named without URLs: they are found on the project's sources by
their hashes. The project itself is not in the lock: it is its ``pyproject.toml`` beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wheelbundle.net.simple import index_base
from wheelbundle.resolve.locks.model import (
    Locked,
    applies,
    check_version,
    content_hash,
    load_toml,
    own_project,
    project_table,
    sha256s,
    unknown,
)

_LEGACY = ("dependencies", "source", "extras", "dev-dependencies")
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")


def read(path: Path) -> PoetryLock:
    data = load_toml(path)
    found = str(data.get("metadata", {}).get("lock-version", "?"))
    check_version(path, "Poetry", found, ["2"], "run 'poetry lock'")
    if tuple(int(p) for p in found.split(".")[:2] if p.isdigit()) < (2, 1):
        check_version(path, "Poetry", found, ["2.1 and later"], "run 'poetry lock'")
    return PoetryLock(path, found, data, project_table(path.parent))


@dataclass(frozen=True)
class PoetryLock:
    path: Path
    version: str
    data: dict[str, Any]
    project: dict[str, Any]
    tool: str = "poetry"

    @property
    def indexes(self) -> tuple[str, ...]:
        sources = self.project.get("tool", {}).get("poetry", {}).get("source", [])
        urls = [str(s["url"]) for s in sources if "url" in s]
        urls += [
            str(p["source"]["url"])
            for p in self.data.get("package", [])
            if p.get("source", {}).get("type") == "legacy"
        ]
        return tuple(dict.fromkeys(index_base(u) for u in urls))

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        packages = self.data.get("package", [])
        known = {g for p in packages for g in p.get("groups", [])} - {"main"}
        unknown(self.path, "extra", extras, self.data.get("extras", {}))
        unknown(self.path, "dependency group", groups, known)
        wanted = {"main", *(canonicalize_name(g) for g in groups)}
        chosen = []
        for package in packages:
            markers = package.get("markers")
            for group in package.get("groups", ["main"]):
                marker = markers.get(group) if isinstance(markers, dict) else markers
                if canonicalize_name(group) in wanted and applies(marker, environment, extras):
                    chosen.append(self._locked(package))
                    break
        mode = self.project.get("tool", {}).get("poetry", {}).get("package-mode", True)
        if own := own_project(self.path.parent, self.project, installed=mode is not False):
            chosen.append(own)
        return tuple(sorted(chosen, key=lambda p: p.name))

    def stale(self) -> str | None:
        recorded = self.data.get("metadata", {}).get("content-hash")
        if recorded != self._content_hash():
            return "its content-hash no longer matches pyproject.toml"
        return None

    def _content_hash(self) -> str:
        """The hash Poetry 2 keeps of what it locked from: the project's requirements, Poetry's
        own dependency tables and sources, and the PEP 735 groups."""
        project = self.project.get("project", {})
        poetry = self.project.get("tool", {}).get("poetry", {})
        relevant = {k: project[k] for k in _PROJECT_KEYS if project.get(k) is not None}
        tool = {
            k: poetry.get(k)
            for k in (*_LEGACY, "group")
            if poetry.get(k) is not None or (k in _LEGACY and not relevant)
        }
        if not relevant:
            return content_hash(tool)
        content: dict[str, Any] = {"project": relevant, "tool": {"poetry": tool}}
        if groups := self.project.get("dependency-groups"):
            content["dependency-groups"] = groups
        return content_hash(content)

    def _locked(self, package: Mapping[str, Any]) -> Locked:
        name, version = canonicalize_name(package["name"]), str(package["version"])
        source = package.get("source", {})
        if source.get("type") == "directory":
            return Locked(name, version, tree=(self.path.parent / source["url"]).resolve())
        return Locked(name, version, sha256s(str(f.get("hash", "")) for f in package["files"]))
