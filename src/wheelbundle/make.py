"""``bundle make``: resolve, collect, build, describe and pack, one stage after another.

Each stage lives in its own module; this one only passes frozen data from one to the next.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from wheelbundle import __version__
from wheelbundle.build import BuildJob, Built, build_all
from wheelbundle.cache import Cache, default_cache_dir, scratch_cache, sha256_file
from wheelbundle.errors import BundleError, UsageError
from wheelbundle.hashes import (
    GivenHashes,
    check_files,
    given_hashes,
)
from wheelbundle.inputs import Inputs, read_inputs
from wheelbundle.layout import CREATED_FORMAT, lock_name
from wheelbundle.manifest import (
    InputFile,
    Manifest,
    Package,
    TargetEntry,
)
from wheelbundle.options import MakeOptions
from wheelbundle.pack import write_bundle
from wheelbundle.pip import Runner, run_pip
from wheelbundle.progress import Reporter, Silent
from wheelbundle.pylock import read_pylock
from wheelbundle.repair import Repaired, needs_repair, repair
from wheelbundle.resolution import Resolved, Resolver, download_of, resolve_targets
from wheelbundle.resolve import Pin, decisions
from wheelbundle.sbom import license_from, wheel_license
from wheelbundle.target import Target, host_target, parse_target

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class MakeResult:
    archive: Path
    manifest: Manifest


def make_bundle(
    options: MakeOptions, reporter: Reporter | None = None, run: Runner = run_pip
) -> MakeResult:
    reporter = reporter or Silent()
    inputs = read_inputs(options.inputs, options.extras, options.groups)
    targets = [parse_target(spec) for spec in options.targets] or [host_target()]
    lock = read_pylock(inputs.lock) if inputs.lock else None
    given = {} if lock else given_hashes(inputs.requirements)
    with _cache(options) as cache:
        resolver = Resolver.create(options, inputs, cache, run, reporter)
        resolved = resolve_targets(resolver, inputs, targets, lock, given)
        return _collect_and_pack(options, inputs, given, resolved, resolver, reporter)


@contextmanager
def _cache(options: MakeOptions) -> Iterator[Cache]:
    if options.use_cache:
        yield Cache(options.cache_dir or default_cache_dir())
    else:
        with scratch_cache() as cache:
            yield cache


def _collect_and_pack(
    options: MakeOptions,
    inputs: Inputs,
    given: Mapping[str, GivenHashes],
    resolved: Sequence[Resolved],
    resolver: Resolver,
    reporter: Reporter,
) -> MakeResult:
    all_pins = [pin for r in resolved for pin in r.resolution.pins]
    for pin in {p.name: p for p in all_pins if p.editable}.values():
        reporter.warn(
            f"{pin.name}: '-e {pin.source}' is bundled as a regular install, not an editable "
            "one: the server gets a wheel built from the folder now, not a link to it"
        )
    # Sources first: a package that cannot serve a foreign target fails before big downloads.
    sources = _fetch(resolver, [p for p in all_pins if p.kind == "sdist"], reporter)
    _check_given(all_pins, sources, given)
    built = _build(options, all_pins, sources, resolver.cache, reporter, resolver.run)
    repairs = _repair(built.wheels, resolver.cache, reporter)
    built = replace(
        built, wheels={k: repairs[w].wheel if w in repairs else w for k, w in built.wheels.items()}
    )
    _check_built_for_targets(resolved, built)
    uv_pins = [r.uv for r in resolved if r.uv is not None]
    wheel_pins = [p for p in all_pins if p.kind == "wheel"]
    fetched = _fetch(resolver, [*wheel_pins, *uv_pins], reporter)
    _check_given(all_pins, fetched, given)
    packages: dict[str, Package] = {}
    wheels: dict[str, Path] = {}
    repaired = {r.wheel: r for r in repairs.values()}
    described: dict[Path, Package] = {}  # a wheel several targets share is hashed once

    def add(pin: Pin) -> str:
        wheel = fetched[pin.url] if pin.kind == "wheel" else built.wheels[pin.name, pin.version]
        package = described.get(wheel) or described.setdefault(
            wheel, _package(pin, wheel, repaired.get(wheel))
        )
        if packages.setdefault(package.wheel, package).sha256 != package.sha256:
            raise BundleError(
                f"two different files are both called {package.wheel}; bundle the targets separately"
            )
        wheels[package.wheel] = wheel
        return package.wheel

    asked = [*_requirement_texts(inputs), *(text for pin in all_pins for text in pin.requires)]
    entries = []
    for r in resolved:
        names = [add(pin) for pin in r.resolution.pins]
        entry = replace(
            _target_entry(r.target, names, single=len(resolved) == 1),
            environment=dict(r.target.markers),
            decisions=decisions(asked, r.target.markers),
        )
        entries.append(replace(entry, uv_wheel=add(r.uv)) if r.uv else entry)
    epoch = _source_date_epoch(inputs.files)
    name, version = _name_and_version(options, inputs, all_pins, epoch)
    manifest = Manifest(
        name=name,
        version=version,
        tool_version=__version__,
        created=datetime.fromtimestamp(epoch, timezone.utc).strftime(CREATED_FORMAT),
        pip_version=resolved[0].resolution.pip_version,
        targets=tuple(entries),
        inputs=inputs.files,
        packages=tuple(sorted(packages.values(), key=lambda p: (p.name, p.wheel))),
    )
    reporter.stage(f"packing {len(packages)} wheels")
    archive = write_bundle(options.outdir, manifest, wheels, options.sign_key)
    return MakeResult(archive=archive, manifest=manifest)


def _requirement_texts(inputs: Inputs) -> list[str]:
    """Every requirement the inputs state themselves: lines of requirements files, groups."""
    stated = inputs.requirements.requirements()
    return [*stated, *(arg for arg in inputs.pip_args if not arg.startswith("-"))]


def _check_given(
    pins: Sequence[Pin], files: Mapping[str, Path], given: Mapping[str, GivenHashes]
) -> None:
    """The bytes going into the bundle match the hashes the requirements file pinned."""
    check_files(
        ((p.name, f"{p.name}=={p.version}", files[p.url]) for p in pins if p.url in files), given
    )


def _target_entry(target: Target, wheels: Sequence[str], single: bool) -> TargetEntry:
    """A single target is named after what its wheels need (``cp311-none-any`` when pure)."""
    name = target.bundle_tag(wheels) if single or target.label is None else target.label
    return TargetEntry(
        name=name,
        implementation=target.implementation,
        python_version=target.python_version,
        interpreter=target.interpreter,
        platform=target.platform_needed(wheels),
        lock=lock_name(name, single),
        wheels=tuple(sorted(wheels)),
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
    options: MakeOptions,
    pins: Sequence[Pin],
    sources: Mapping[str, Path],
    cache: Cache,
    reporter: Reporter,
    run: Runner,
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
        return build_all(
            jobs,
            cache,
            options.pip_index_options(),
            parallel=min(options.jobs, os.cpu_count() or 1),
            verbose=options.verbose,
            run=run,
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


def _package(pin: Pin, wheel: Path, repaired: Repaired | None = None) -> Package:
    if pin.kind == "wheel":
        origin = "local" if pin.url.startswith("file:") else "index-wheel"
    else:
        origin = {"sdist": "built-from-sdist", "vcs": "built-from-vcs", "dir": "local"}[pin.kind]
    source_url = f"{pin.vcs}+{pin.url}@{pin.vcs_commit}" if pin.kind == "vcs" else pin.url
    return Package(
        name=pin.name,
        version=pin.version,
        wheel=wheel.name,
        sha256=sha256_file(wheel) if pin.kind != "wheel" or not pin.sha256 else pin.sha256,
        size=wheel.stat().st_size,
        origin=origin,
        source_url=source_url,
        source_sha256=pin.sha256,
        requires=pin.requires,
        license=(
            license_from(pin.license_expression, pin.classifiers)
            if pin.license_expression or pin.classifiers
            else wheel_license(wheel)
        ),
        repaired=repaired.platform if repaired else None,
        grafted=repaired.grafted if repaired else (),
    )


def _name_and_version(
    options: MakeOptions, inputs: Inputs, pins: Sequence[Pin], epoch: int
) -> tuple[str, str]:
    """The options', else the one local project's, else the input folder's name and the date."""
    project_urls = {p.as_uri() for p in inputs.projects}
    project = next((p for p in pins if p.kind == "dir" and p.url in project_urls), None)
    name = options.name or (
        project.name if project and len(inputs.projects) == 1 else inputs.default_name
    )
    version = options.version or (
        project.version
        if project and len(inputs.projects) == 1
        else datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y.%m.%d")
    )
    for what, value in (("name", name), ("version", version)):
        if not _SAFE_NAME.match(value):
            raise UsageError(
                f"bundle {what} {value!r} cannot be used in a file name; pass --{what} with "
                "letters, digits, '.', '_', '+' or '-'"
            )
    return name, version


def _source_date_epoch(files: Sequence[InputFile]) -> int:
    """The one timestamp of the bundle: SOURCE_DATE_EPOCH, else the newest input file's mtime.

    Both are the same on every run with the same inputs, so the archive's bytes are too.
    """
    if value := os.environ.get("SOURCE_DATE_EPOCH"):
        try:
            return int(value)
        except ValueError as exc:
            raise UsageError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {value!r}"
            ) from exc
    mtimes = [int(Path(f.path).stat().st_mtime) for f in files if Path(f.path).exists()]
    return max(mtimes) if mtimes else int(time.time())
