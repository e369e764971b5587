"""What a bundle holds, or would hold, as one JSON document for scripts and CI.

``bundle inspect --json``, ``bundle make --report FILE`` and ``bundle make --dry-run --report
FILE`` write this one schema (docs/summary.schema.json, explained in docs/reference.md): a dry
run (``collect.plan``) fills in what it knows before anything is downloaded or built and leaves
the rest null (a wheel still to be built has no name, hash or size yet).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from wheelbundle.format.manifest import Manifest

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
    return summary_document(
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


def _fetched(source_url: str, origin: str) -> str:
    """The name of what was fetched to make a wheel, as ``Pin.filename`` gives it."""
    url = source_url.rpartition("@")[0] if origin == "built-from-vcs" else source_url
    return unquote(PurePosixPath(urlsplit(url).path).name)


def summary_document(**fields: Any) -> dict[str, Any]:
    """The summary's keys in order, with the totals made from its packages."""
    sizes = [p["size"] for p in fields["packages"]]
    return {
        "summary_format": SUMMARY_FORMAT,
        **fields,
        "total_size": sum(s for s in sizes if s is not None),
        "unsized": sum(1 for s in sizes if s is None),
    }
