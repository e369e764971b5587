"""The collect stage: every file the resolutions chose, downloaded, built and checked.

Sources come first: sdists are downloaded and built here (each once, all of them even when one
fails), and wheels built with compiled code are repaired (``repair``), so that a package that
cannot serve a foreign target is named, with every other such package, before the wheels are
downloaded. Every file is checked against the hashes the requirements files pinned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.tags import parse_tag
from packaging.utils import parse_wheel_filename

from wheelbundle.cache import Cache
from wheelbundle.collect.build import BuildJob, BuildKey, Built, build_all, built_of
from wheelbundle.collect.repair import Repaired, needs_repair, repair
from wheelbundle.errors import BundleError
from wheelbundle.format.pins import Pin
from wheelbundle.inputs.pinned_hashes import GivenHashes, check_files
from wheelbundle.net.session import Session
from wheelbundle.pip.pythons import Python, find_python, given_pythons
from wheelbundle.pip.runner import Under
from wheelbundle.progress import Reporter
from wheelbundle.resolve.resolver import Resolved, download_of
from wheelbundle.target import Target, host_target


@dataclass(frozen=True)
class Collected:
    """Where each pin's wheel is on disk, and what repair did to the wheels built here."""

    fetched: Mapping[str, Path]
    """Downloaded wheels, by URL."""
    built: Mapping[BuildKey, Path]
    """Wheels built here (repaired where needed), by name, version and the Python that built
    them (empty: this one)."""
    repairs: Mapping[Path, Repaired]
    """By the repaired wheel's path."""
    builders: Mapping[Path, Python] = field(default_factory=dict)
    """The other Pythons that built wheels, by the wheel's path."""

    def wheel(self, pin: Pin, target: Target | None = None) -> Path:
        """The pin's wheel; of those built for it, the one ``target`` installs."""
        if pin.kind == "wheel":
            return self.fetched[pin.url]
        built = built_of(self.built, pin)
        fitting = [w for w in built if target is None or target.accepts(w.name)]
        return (fitting or built)[0]


def collect(
    resolved: Sequence[Resolved],
    given: Mapping[str, GivenHashes],
    session: Session,
    reporter: Reporter,
    runtime_python: Path | None = None,
) -> Collected:
    """Every wheel the resolutions need, on disk and checked. ``runtime_python`` is the
    interpreter the bundle carries, unpacked: it builds for its own version first."""
    all_pins = [pin for r in resolved for pin in r.resolution.pins]
    for pin in {p.name: p for p in all_pins if p.editable}.values():
        reporter.warn(
            f"{pin.name}: '-e {pin.source}' is bundled as a regular install, not an editable "
            "one: the server gets a wheel built from the folder now, not a link to it"
        )
    sources = _fetch(session, [p for p in all_pins if p.kind == "sdist"], reporter)
    _check_given(all_pins, sources, given)
    unique = {(p.name, p.version): p for p in all_pins if p.kind != "wheel"}
    built, repairs = _build(session, [_job(p, sources) for p in unique.values()], reporter)
    pythons = given_pythons(session.settings.build_pythons)
    foreign, used = _for_other_pythons(
        resolved, built, sources, pythons, session, reporter, runtime_python
    )
    if foreign:
        more, more_repairs = _build(session, list(foreign.values()), reporter)
        built = Built({**built.wheels, **more.wheels}, {**built.failed, **more.failed})
        repairs = {**repairs, **more_repairs}
    _check_built_for_targets(resolved, built, foreign)
    uv_pins = [r.uv for r in resolved if r.uv is not None]
    wheel_pins = [p for p in all_pins if p.kind == "wheel"]
    fetched = _fetch(session, [*wheel_pins, *uv_pins], reporter)
    _check_given(all_pins, fetched, given)
    builders = {
        built.wheels[k]: used[job.python] for k, job in foreign.items() if k in built.wheels
    }
    return Collected(
        fetched=fetched,
        built=built.wheels,
        repairs={r.wheel: r for r in repairs.values()},
        builders=builders,
    )


def _job(
    pin: Pin, sources: Mapping[str, Path], under: Under | None = None, tag: str = ""
) -> BuildJob:
    source = str(sources[pin.url]) if pin.kind == "sdist" else pin.source
    return BuildJob(pin=pin, source=source, under=under, python=tag)


def _check_given(
    pins: Sequence[Pin], files: Mapping[str, Path], given: Mapping[str, GivenHashes]
) -> None:
    """The bytes going into the bundle match the hashes the requirements file pinned."""
    check_files(
        ((p.name, f"{p.name}=={p.version}", files[p.url]) for p in pins if p.url in files), given
    )


def _fits(target: Target, built: Built, pin: Pin) -> bool:
    return any(target.accepts(w.name) for w in built_of(built.wheels, pin))


def _for_other_pythons(
    resolved: Sequence[Resolved],
    built: Built,
    sources: Mapping[str, Path],
    pythons: Sequence[Python],
    session: Session,
    reporter: Reporter,
    runtime_python: Path | None = None,
) -> tuple[dict[BuildKey, BuildJob], dict[str, Python]]:
    """A build by a Python of the target's version for each source pin whose wheel built here
    does not fit a target of this machine's platform: a C extension built by 3.11 is no use to
    a server running 3.9. pip runs from the target's own pip wheel under that Python. Also the
    Pythons found, by tag: each is looked for once, however many targets share it."""
    jobs: dict[BuildKey, BuildJob] = {}
    found: dict[str, Python | None] = {}
    for r in resolved:
        if not _buildable_here(r.target):
            continue
        todo = [p for p in r.resolution.pins if p.kind != "wheel" and not _fits(r.target, built, p)]
        tag = r.target.interpreter
        if todo and tag not in found:
            found[tag] = find_python(tag, pythons, runtime_python)
        python = found.get(tag) if todo else None
        if python is None:
            continue
        pip_pin = next(p for p in r.resolution.pins if p.name == "pip")
        pip_wheel = _fetch(session, [pip_pin], reporter)[pip_pin.url]
        minor = ".".join(python.version.split(".")[:2])
        under = Under(python.path, minor, pip_wheel)
        for pin in todo:
            job = _job(pin, sources, under, python.tag)
            jobs.setdefault(job.key, job)
        reporter.stage(
            f"building {len(todo)} for {r.target.label or r.target.display} with {python.label}"
        )
    return jobs, {tag: python for tag, python in found.items() if python is not None}


def _glibc(platform: str) -> tuple[int, int] | None:
    """The glibc a ``manylinux_X_Y_ARCH`` platform tag names; None for any other."""
    m = re.match(r"manylinux_(\d+)_(\d+)_", platform)
    return (int(m[1]), int(m[2])) if m else None


def _glibc_needed(wheel: str) -> tuple[int, int] | None:
    """The glibc a manylinux wheel needs: its least demanding tag's."""
    found = [g for tag in parse_wheel_filename(wheel)[3] if (g := _glibc(tag.platform))]
    return min(found) if found else None


def _glibc_of(target: Target) -> tuple[int, int]:
    """The newest glibc the target's tags accept (2.0 when none is manylinux)."""
    found = [g for text in target.tags for t in parse_tag(text) if (g := _glibc(t.platform))]
    return max(found, default=(2, 0))


def _buildable_here(target: Target) -> bool:
    """A target of this machine's OS and architecture: a Python here builds its wheels."""
    here = host_target().markers
    return all(target.markers.get(k) == here.get(k) for k in ("sys_platform", "platform_machine"))


def _check_built_for_targets(
    resolved: Sequence[Resolved], built: Built, foreign: Mapping[BuildKey, BuildJob]
) -> None:
    """Every target has a wheel it installs for each source pin; name every one that has not.

    A build that failed for this machine's own kind of target, or with the target's Python,
    is the error. For another target, an sdist that failed to build is named with the rest:
    fixing its build here would still give a wheel for this machine.
    """
    mine = f"x-1-{host_target().tags[0]}.whl"
    unfit, no_python = set(), set()
    for r in resolved:
        where = r.target.label or r.target.display
        for pin in r.resolution.pins:
            if pin.kind == "wheel" or _fits(r.target, built, pin):
                continue
            key = (pin.name, pin.version, "")
            other = (pin.name, pin.version, r.target.interpreter)
            if other in built.failed:
                raise built.failed[other]
            if key in built.failed:
                if r.target.accepts(mine):
                    raise built.failed[key]
                unfit.add(f"{pin.name} {pin.version} (its sdist did not build here, for {where})")
                continue
            wheel = built.wheels.get(other) or built.wheels[key]
            why = f"{wheel.name}, for {where}"
            if _buildable_here(r.target) and other not in foreign:
                no_python.add(r.target.python_version)
                why += f"; no {r.target.display} here to build one"
            elif (needs := _glibc_needed(wheel.name)) and needs > (has := _glibc_of(r.target)):
                why += (
                    f"; built against this machine's glibc, it needs 2.{needs[1]}, newer than "
                    f"the server's 2.{has[1]}: build it on a machine with the "
                    "server's glibc or older"
                )
            unfit.add(f"{pin.name} {pin.version} ({why})")
    if unfit:
        give = "P"
        if no_python:
            versions = " and ".join(sorted(no_python))
            give = (
                f"Give a Python {versions} with --build-python PATH (or install one: 'pyenv "
                f"install {sorted(no_python)[0]}', 'uv python install {sorted(no_python)[0]}'), "
                "or bundle with --python-runtime; or p"
            )
        raise BundleError(
            "these packages have no wheel for the target, and a wheel built here would be for "
            f"this machine: {'; '.join(sorted(unfit))}. {give}ut wheels built for the target "
            "in a folder and pass --find-links DIR, or run 'bundle make' on a machine of the "
            "target's kind and combine the bundles with 'bundle merge'"
        )


def _fetch(session: Session, pins: Sequence[Pin], reporter: Reporter) -> dict[str, Path]:
    downloads = [download_of(p) for p in {p.url: p for p in pins}.values()]
    for d in downloads:
        if d.sha256 is None:
            reporter.warn(
                f"{d.label}: the index published no hash for {d.filename}; it is recorded but cannot be checked"
            )
    bar = reporter.bar("downloading", len(downloads), "file")
    try:
        return session.fetcher().fetch_all(downloads, done=lambda: bar.advance(1))
    finally:
        bar.close()


def _build(
    session: Session, jobs: Sequence[BuildJob], reporter: Reporter
) -> tuple[Built, dict[Path, Repaired]]:
    """Build every job once, then repair what needs it; the wheels by build key."""
    if not jobs:
        return Built(wheels={}, failed={}), {}
    bar = reporter.bar("building wheels", len(jobs), "wheel")
    try:
        settings = session.settings
        built = build_all(
            jobs,
            session.cache,
            settings.index_options(),
            parallel=min(settings.jobs, os.cpu_count() or 1),
            verbose=settings.verbose,
            run=session.run,
            done=lambda _pin: bar.advance(1),
        )
    finally:
        bar.close()
    repairs = _repair(built.wheels, session.cache, reporter)
    wheels = {k: repairs[w].wheel if w in repairs else w for k, w in built.wheels.items()}
    return replace(built, wheels=wheels), repairs


def _repair(
    built: Mapping[BuildKey, Path], cache: Cache, reporter: Reporter
) -> dict[Path, Repaired]:
    """Every wheel built here for this Linux machine only, made to carry what it links."""
    todo = {wheel: f"{name}=={version}" for (name, version, _), wheel in built.items()}
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
