"""``Pipfile.lock`` (Pipfile spec 6): flat sections (``default``, ``develop``, and any custom
category) of exact pins with their hashes and markers; no URLs, so files are found on the
Pipfile's sources by their hashes. Stale when the Pipfile's hash is not the one recorded.
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
    load_json,
    load_toml,
    own_project,
    project_table,
    sha256s,
    unknown,
)

_SECTIONS = {"dev": "develop", "develop": "develop", "dev-packages": "develop"}


def read(path: Path) -> PipfileLock:
    data = load_json(path)
    spec = str(data.get("_meta", {}).get("pipfile-spec", "?"))
    check_version(path, "Pipenv", spec, ["6"], "run 'pipenv lock'")
    return PipfileLock(path, spec, data)


@dataclass(frozen=True)
class PipfileLock:
    path: Path
    version: str
    data: dict[str, Any]
    tool: str = "pipenv"

    @property
    def indexes(self) -> tuple[str, ...]:
        sources = self.data["_meta"].get("sources", [])
        return tuple(index_base(str(s["url"])) for s in sources if "url" in s)

    def select(
        self, environment: Mapping[str, str], extras: Sequence[str], groups: Sequence[str]
    ) -> tuple[Locked, ...]:
        if extras:
            raise UsageError(f"{self.path}: a Pipfile.lock has no extras; use --group CATEGORY")
        categories = [k for k in self.data if k not in ("_meta", "default")]
        unknown(self.path, "category", [_SECTIONS.get(g, g) for g in groups], categories)
        chosen: dict[str, Locked] = {}
        for section in ("default", *(_SECTIONS.get(g, g) for g in groups)):
            for name, entry in self.data[section].items():
                if applies(entry.get("markers"), environment):
                    chosen.setdefault(canonicalize_name(name), self._locked(name, entry))
        if own := own_project(self.path.parent, project_table(self.path.parent)):
            chosen.setdefault(own.name, own)
        return tuple(sorted(chosen.values(), key=lambda p: p.name))

    def stale(self) -> str | None:
        pipfile = self.path.with_name("Pipfile")
        if not pipfile.is_file():
            return None
        data = load_toml(pipfile)
        hashed = {
            "_meta": {"sources": data.get("source", []), "requires": data.get("requires", {})},
            "default": data.get("packages", {}),
            "develop": data.get("dev-packages", {}),
        }
        recorded = self.data["_meta"].get("hash", {}).get("sha256")
        if recorded != content_hash(hashed, compact=True):
            return "its hash no longer matches the Pipfile"
        return None

    def _locked(self, name: str, entry: Mapping[str, Any]) -> Locked:
        canonical = canonicalize_name(name)
        if "path" in entry:
            return Locked(canonical, "", tree=(self.path.parent / entry["path"]).resolve())
        version = str(entry.get("version", ""))
        if not version.startswith("=="):
            raise UsageError(
                f"{self.path}: {canonical} is locked as {version or 'no version'!r}, not one "
                "exact version; run 'pipenv lock' again"
            )
        return Locked(canonical, version[2:], sha256s(entry.get("hashes", [])))
