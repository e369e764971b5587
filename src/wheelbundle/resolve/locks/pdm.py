"""``pdm.lock`` (lock format 4, strategy ``inherit_metadata``): each package carries the groups
that need it (the project's extras are groups too) and the marker under which they do, so a
target's selection is a filter. The project itself is its ``pyproject.toml`` beside the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wheelbundle.errors import UsageError
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


def read(path: Path) -> PdmLock:
    data = load_toml(path)
    meta = data.get("metadata", {})
    found = str(meta.get("lock_version", "?"))
    check_version(path, "PDM", found, ["4"], "run 'pdm lock'")
    if "inherit_metadata" not in meta.get("strategy", []):
        raise UsageError(
            f"{path}: locked without the inherit_metadata strategy, so it does not say which "
            "packages each environment needs; run 'pdm lock --strategy inherit_metadata'"
        )
    return PdmLock(path, found, data, project_table(path.parent))


@dataclass(frozen=True)
class PdmLock:
    path: Path
    version: str
    data: dict[str, Any]
    project: dict[str, Any]
    tool: str = "pdm"

    @property
    def indexes(self) -> tuple[str, ...]:
        sources = self.project.get("tool", {}).get("pdm", {}).get("source", [])
        return tuple(index_base(str(s["url"])) for s in sources if "url" in s)

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        known = set(self.data["metadata"].get("groups", [])) - {"default"}
        extra_names = self.project.get("project", {}).get("optional-dependencies", {})
        unknown(self.path, "extra", extras, extra_names)
        unknown(self.path, "dependency group", groups, known - set(extra_names))
        wanted = {"default", *map(canonicalize_name, (*extras, *groups))}
        chosen: dict[str, Locked] = {}
        for package in self.data.get("package", []):
            asked = {canonicalize_name(g) for g in package.get("groups", [])} & wanted
            if asked and applies(package.get("marker"), environment):
                locked = self._locked(package)
                chosen.setdefault(locked.name, locked)  # an extra's entry repeats its package
        distribution = self.project.get("tool", {}).get("pdm", {}).get("distribution", True)
        if own := own_project(self.path.parent, self.project, installed=distribution is not False):
            chosen[own.name] = own
        return tuple(sorted(chosen.values(), key=lambda p: p.name))

    def stale(self) -> str | None:
        recorded = str(self.data["metadata"].get("content_hash", ""))
        if recorded.partition(":")[2] != self._content_hash():
            return "its content_hash no longer matches pyproject.toml"
        return None

    def _content_hash(self) -> str:
        """PDM's hash of what it locked from: sources, requirements, groups, resolution."""
        project = self.project.get("project", {})
        settings = self.project.get("tool", {}).get("pdm", {})
        groups: dict[str, list[Any]] = {}
        for name, deps in self.project.get("dependency-groups", {}).items():
            groups[canonicalize_name(name)] = list(deps)
        for name, deps in settings.get("dev-dependencies", {}).items():
            groups.setdefault(canonicalize_name(name), []).extend(deps)
        return content_hash(
            {
                "sources": settings.get("source", []),
                "dependencies": project.get("dependencies", []),
                "dev-dependencies": groups,
                "optional-dependencies": project.get("optional-dependencies", {}),
                "requires-python": project.get("requires-python", ""),
                "resolution": settings.get("resolution", {}),
            }
        )

    def _locked(self, package: Mapping[str, Any]) -> Locked:
        name, version = canonicalize_name(package["name"]), str(package["version"])
        if "path" in package:
            return Locked(name, version, tree=(self.path.parent / package["path"]).resolve())
        return Locked(name, version, sha256s(str(f.get("hash", "")) for f in package["files"]))
