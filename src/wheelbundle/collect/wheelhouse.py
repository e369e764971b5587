"""The collect stage: every file the resolutions chose, downloaded, built and checked.

Sources come first: sdists are downloaded and built here (each once, all of them even when one
fails), and wheels built with compiled code are repaired (``repair``), so that a package that
cannot serve a foreign target is named, with every other such package, before the wheels are
downloaded. Every file is checked against the hashes the requirements files pinned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from wheelbundle.cache import Cache
from wheelbundle.collect.build import BuildJob, Built, build_all
from wheelbundle.collect.repair import Repaired, needs_repair, repair
from wheelbundle.errors import BundleError
from wheelbundle.format.pins import Pin
from wheelbundle.inputs.pinned_hashes import GivenHashes, check_files
from wheelbundle.progress import Reporter
from wheelbundle.resolve.resolver import Resolved, Resolver, download_of
from wheelbundle.target import host_target


@dataclass(frozen=True)
class Collected:
    """Where each pin's wheel is on disk, and what repair did to the wheels built here."""

    fetched: Mapping[str, Path]
    """Downloaded wheels, by URL."""
    built: Mapping[tuple[str, str], Path]
    """Wheels built here (repaired where needed), by name and version."""
    repairs: Mapping[Path, Repaired]
    """By the repaired wheel's path."""

    def wheel(self, pin: Pin) -> Path:
        return self.fetched[pin.url] if pin.kind == "wheel" else self.built[pin.name, pin.version]


def collect(
    resolved: Sequence[Resolved],
    given: Mapping[str, GivenHashes],
    resolver: Resolver,
    reporter: Reporter,
) -> Collected:
    """Every wheel the resolutions need, on disk and checked."""
    all_pins = [pin for r in resolved for pin in r.resolution.pins]
    for pin in {p.name: p for p in all_pins if p.editable}.values():
        reporter.warn(
            f"{pin.name}: '-e {pin.source}' is bundled as a regular install, not an editable "
            "one: the server gets a wheel built from the folder now, not a link to it"
        )
    sources = _fetch(resolver, [p for p in all_pins if p.kind == "sdist"], reporter)
    _check_given(all_pins, sources, given)
    built = _build(resolver, all_pins, sources, reporter)
    repairs = _repair(built.wheels, resolver.cache, reporter)
    built = replace(
        built, wheels={k: repairs[w].wheel if w in repairs else w for k, w in built.wheels.items()}
    )
    _check_built_for_targets(resolved, built)
    uv_pins = [r.uv for r in resolved if r.uv is not None]
    wheel_pins = [p for p in all_pins if p.kind == "wheel"]
    fetched = _fetch(resolver, [*wheel_pins, *uv_pins], reporter)
    _check_given(all_pins, fetched, given)
    return Collected(
        fetched=fetched, built=built.wheels, repairs={r.wheel: r for r in repairs.values()}
    )


def _check_given(
    pins: Sequence[Pin], files: Mapping[str, Path], given: Mapping[str, GivenHashes]
) -> None:
    """The bytes going into the bundle match the hashes the requirements file pinned."""
    check_files(
        ((p.name, f"{p.name}=={p.version}", files[p.url]) for p in pins if p.url in files), given
    )


def _check_built_for_targets(resolved: Sequence[Resolved], built: Built) -> None:
    """Wheels built here serve a foreign target only when pure; name every one that cannot.

    For a target this machine's wheels do not fit (another Python, another platform), an sdist
    that failed to build is named with the rest: fixing its build here would still give a wheel
    for this machine. For this machine's own kind of target, the failed build is the error.
    """
    mine = f"x-1-{host_target().tags[0]}.whl"
    unfit = set()
    for r in resolved:
        where = r.target.label or r.target.display
        for pin in r.resolution.pins:
            key = (pin.name, pin.version)
            if key in built.failed:
                if r.target.accepts(mine):
                    raise built.failed[key]
                unfit.add(f"{pin.name} {pin.version} (its sdist did not build here, for {where})")
            elif pin.kind != "wheel" and not r.target.accepts(built.wheels[key].name):
                unfit.add(f"{pin.name} {pin.version} ({built.wheels[key].name}, for {where})")
    if unfit:
        raise BundleError(
            "these packages have no wheel for the target, and a wheel built here would be for "
            f"this machine: {'; '.join(sorted(unfit))}. Put wheels built for the target in a "
            "folder and pass --find-links DIR, or run 'bundle make' on a machine of the "
            "target's kind and combine the bundles with 'bundle merge'"
        )


def _fetch(resolver: Resolver, pins: Sequence[Pin], reporter: Reporter) -> dict[str, Path]:
    downloads = [download_of(p) for p in {p.url: p for p in pins}.values()]
    for d in downloads:
        if d.sha256 is None:
            reporter.warn(
                f"{d.label}: the index published no hash for {d.filename}; it is recorded but cannot be checked"
            )
    bar = reporter.bar("downloading", len(downloads), "file")
    try:
        return resolver.fetcher().fetch_all(downloads, done=lambda: bar.advance(1))
    finally:
        bar.close()


def _build(
    resolver: Resolver, pins: Sequence[Pin], sources: Mapping[str, Path], reporter: Reporter
) -> Built:
    """Build every source pin once (several targets may share one); keyed by name and version."""
    unique = {(p.name, p.version): p for p in pins if p.kind != "wheel"}
    jobs = [
        BuildJob(pin=p, source=str(sources[p.url]) if p.kind == "sdist" else p.source)
        for p in unique.values()
    ]
    if not jobs:
        return Built(wheels={}, failed={})
    bar = reporter.bar("building wheels", len(jobs), "wheel")
    try:
        settings = resolver.settings
        return build_all(
            jobs,
            resolver.cache,
            settings.index_options(),
            parallel=min(settings.jobs, os.cpu_count() or 1),
            verbose=settings.verbose,
            run=resolver.run,
            done=lambda _pin: bar.advance(1),
        )
    finally:
        bar.close()


def _repair(
    built: Mapping[tuple[str, str], Path], cache: Cache, reporter: Reporter
) -> dict[Path, Repaired]:
    """Every wheel built here for this Linux machine only, made to carry what it links."""
    todo = {wheel: f"{name}=={version}" for (name, version), wheel in built.items()}
    todo = {wheel: label for wheel, label in todo.items() if needs_repair(wheel.name)}
    if not todo:
        return {}
    bar = reporter.bar("repairing built wheels", len(todo), "wheel")
    try:
        repairs = {}
        for wheel, label in todo.items():
            repairs[wheel] = repair(wheel, label, cache)
            bar.advance(1)
    finally:
        bar.close()
    return repairs
