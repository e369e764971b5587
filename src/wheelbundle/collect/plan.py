"""A dry run's answer: what each target's bundle would hold, nothing downloaded, built or written.

Each file's size is the cache's copy's, else what its server states (a HEAD request, in
parallel); a wheel still to be built from its sdist has no size until it is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from wheelbundle import __version__
from wheelbundle.cache import Cache
from wheelbundle.format.manifest import InputFile, origin_of, source_url_of
from wheelbundle.format.pins import Pin
from wheelbundle.net.fetch import Fetcher
from wheelbundle.resolve.resolver import Resolved
from wheelbundle.review.summary import summary_document
from wheelbundle.target import Target


@dataclass(frozen=True)
class PlannedFile:
    pin: Pin
    size: int | None
    """None: a wheel to be built here, or a file whose server does not say."""


@dataclass(frozen=True)
class PlannedTarget:
    target: Target
    name: str
    """As the bundle would name it (``cp311-none-any`` for pure wheels)."""
    files: tuple[PlannedFile, ...]
    """The target's distributions, then ``--installer uv``'s wheel."""


def plan(resolved: Sequence[Resolved], cache: Cache, fetcher: Fetcher) -> list[PlannedTarget]:
    """Each target's files with their sizes; a file several targets share is asked about once."""
    pins = {pin.url: pin for r in resolved for pin in _pins(r)}
    with ThreadPoolExecutor(max_workers=max(1, fetcher.jobs)) as pool:
        sizes = dict(
            zip(pins, pool.map(lambda p: _size(p, cache, fetcher), pins.values()), strict=True)
        )
    return [
        PlannedTarget(
            target=r.target,
            name=_name(r, single=len(resolved) == 1),
            files=tuple(PlannedFile(pin, sizes[pin.url]) for pin in _pins(r)),
        )
        for r in resolved
    ]


def _pins(resolved: Resolved) -> list[Pin]:
    return [*resolved.resolution.pins, *([resolved.uv] if resolved.uv else [])]


def _name(resolved: Resolved, single: bool) -> str:
    """As ``describe`` names a target, from the wheels known before any is built."""
    target = resolved.target
    if single or target.label is None:
        return target.bundle_tag(p.filename for p in resolved.resolution.pins if p.kind == "wheel")
    return target.shorthand


def _size(pin: Pin, cache: Cache, fetcher: Fetcher) -> int | None:
    if pin.kind != "wheel":
        return None
    if pin.sha256 and (cached := cache.file(pin.sha256, pin.filename)):
        return cached.stat().st_size
    return fetcher.size(pin.url)


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
    return summary_document(
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
