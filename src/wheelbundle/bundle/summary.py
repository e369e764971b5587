"""What a bundle holds, or would hold, as one JSON document for scripts and CI.

``bundle inspect --json``, ``bundle make --report FILE`` and ``bundle make --dry-run --report
FILE`` write this one schema (docs/summary.schema.json, explained in docs/reference.md): a dry
run fills in what it knows before anything is downloaded or built and leaves the rest null (a
wheel still to be built has no name, hash or size yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from wheelbundle import __version__
from wheelbundle.format.manifest import InputFile, Manifest, origin_of, source_url_of

if TYPE_CHECKING:  # the plan's code fetches; reading a bundle never loads it
    from wheelbundle.collect.plan import PlannedTarget

#: Changed only when a key changes meaning or goes; new keys may appear in any release.
SUMMARY_FORMAT = 1


def bundle_summary(manifest: Manifest, archive: Path) -> dict[str, Any]:
    """A bundle that exists: everything its manifest says, and the archive's size."""
    targets_of: dict[str, list[str]] = {}
    for t in manifest.targets:
        for wheel in (*t.wheels, *([t.uv_wheel] if t.uv_wheel else [])):
            targets_of.setdefault(wheel, []).append(t.name)
    packages = [
        {
            **{k: v for k, v in asdict(p).items() if k != "requires"},
            "file": _fetched(p.source_url, p.origin),
            "targets": targets_of.get(p.wheel, []),
        }
        for p in manifest.packages
    ]  # fmt: skip
    return _document(
        dry_run=False,
        name=manifest.name,
        version=manifest.version,
        tool_version=manifest.tool_version,
        created=manifest.created,
        archive=str(archive),
        archive_size=archive.stat().st_size,
        targets=[asdict(t) for t in manifest.targets],
        inputs=[asdict(i) for i in manifest.inputs],
        packages=packages,
        base=asdict(manifest.base) if manifest.base else None,
        audit=manifest.audit.as_json() if manifest.audit else None,
    )


def plan_summary(
    name: str, version: str, planned: Sequence[PlannedTarget], inputs: Sequence[InputFile]
) -> dict[str, Any]:
    """A dry run's bundle: the files chosen, their sizes where known, nothing written."""
    packages: dict[str, dict[str, Any]] = {}
    for t in planned:
        for f in t.files:
            wheel = f.pin.filename if f.pin.kind == "wheel" else None
            entry = packages.setdefault(
                f.pin.url,
                {
                    "name": f.pin.name,
                    "version": f.pin.version,
                    "wheel": wheel,
                    "sha256": f.pin.sha256 if wheel else None,
                    "size": f.size,
                    "origin": origin_of(f.pin),
                    "source_url": source_url_of(f.pin),
                    "source_sha256": f.pin.sha256,
                    "license": None,
                    "repaired": None,
                    "grafted": [],
                    "built_by": None,
                    "file": f.pin.filename,
                    "targets": [],
                },
            )
            entry["targets"].append(t.name)
    targets = [
        {
            "name": t.name,
            "implementation": t.target.implementation,
            "python_version": t.target.python_version,
            "interpreter": t.target.interpreter,
            "platform": None,
            "lock": None,
            "wheels": sorted(f.pin.filename for f in t.files if f.pin.kind == "wheel"),
            "uv_wheel": None,
            "environment": dict(t.target.markers),
            "decisions": {},
            "runtime": None,
        }
        for t in planned
    ]
    return _document(
        dry_run=True,
        name=name,
        version=version,
        tool_version=__version__,
        created=None,
        archive=None,
        archive_size=None,
        targets=targets,
        inputs=[asdict(i) for i in inputs],
        packages=sorted(packages.values(), key=lambda p: (p["name"], p["file"])),
        base=None,
        audit=None,
    )


def _fetched(source_url: str, origin: str) -> str:
    """The name of what was fetched to make a wheel, as ``Pin.filename`` gives it."""
    url = source_url.rpartition("@")[0] if origin == "built-from-vcs" else source_url
    return unquote(PurePosixPath(urlsplit(url).path).name)


def _document(**fields: Any) -> dict[str, Any]:
    sizes = [p["size"] for p in fields["packages"]]
    return {
        "summary_format": SUMMARY_FORMAT,
        **fields,
        "total_size": sum(s for s in sizes if s is not None),
        "unsized": sum(1 for s in sizes if s is None),
    }
