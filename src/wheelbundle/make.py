"""``bundle make``: resolve, collect, build, describe and pack, one stage after another.

Each stage lives in its own module; this one only passes frozen data from one to the next.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from wheelbundle import __version__
from wheelbundle.build import BuildJob, build_all
from wheelbundle.cache import Cache, default_cache_dir, scratch_cache, sha256_file
from wheelbundle.credentials import Credentials, Location, pip_credentials, pip_settings
from wheelbundle.errors import BundleError, ResolutionFailed, UsageError
from wheelbundle.fetch import Download, Fetcher, Network
from wheelbundle.find import find_locked, locked_lines, plain_indexes
from wheelbundle.hashes import (
    GivenHashes,
    check_files,
    given_hashes,
    requirement_files,
    requirement_lines,
)
from wheelbundle.inputs import Inputs, read_inputs
from wheelbundle.layout import CREATED_FORMAT, lock_name
from wheelbundle.manifest import (
    InputFile,
    Manifest,
    Package,
    TargetEntry,
)
from wheelbundle.memo import MAX_AGE, resolution_key
from wheelbundle.pack import write_bundle
from wheelbundle.pip import Runner, run_pip
from wheelbundle.progress import Reporter, Silent
from wheelbundle.pylock import locked_pins, read_pylock
from wheelbundle.relay import Relay
from wheelbundle.repair import Repaired, needs_repair, repair
from wheelbundle.resolve import Pin, Resolution, decisions, remembered, resolve, unmet
from wheelbundle.sbom import license_from, wheel_license
from wheelbundle.target import Target, host_target, parse_target

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class MakeOptions:
    """Everything ``bundle make`` was asked for."""

    inputs: tuple[str, ...]
    outdir: Path = Path("dist")
    name: str | None = None
    version: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cache_dir: Path | None = None
    use_cache: bool = True
    jobs: int = 8
    verbose: bool = False
    targets: tuple[str, ...] = ()
    """``--target`` values; none means this machine."""
    refresh: bool = False
    """Resolve anew even when a stored resolution of the same inputs is fresh."""
    sign_key: Path | None = None
    """An OpenSSH private key (or the public half of one in ssh-agent) to sign SHA256SUMS with."""
    extras: tuple[str, ...] = ()
    """``--extra``: optional dependencies of the project inputs (or of a pylock.toml)."""
    groups: tuple[str, ...] = ()
    """``--group``: PEP 735 dependency groups of the project inputs (or of a pylock.toml)."""
    installer: str = "pip"
    """``uv``: the bundle also carries each target's uv wheel, and install.sh installs with it."""

    def pip_index_options(self) -> list[str]:
        """Only what the user set: pip's own configuration fills in the rest."""
        opts: list[str] = []
        if self.index_url:
            opts += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            opts += ["--extra-index-url", url]
        for link in self.find_links:
            opts += ["--find-links", link]
        for host in self.trusted_hosts:
            opts += ["--trusted-host", host]
        return opts


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
    given = {} if lock else given_hashes(requirement_files(inputs.pip_args))
    pip_config = functools.cache(lambda: run(["config", "list"]).output)  # asked at most once
    network = functools.cache(lambda: _network(pip_config, options.trusted_hosts))
    credentials = pip_credentials(
        options.pip_index_options(), requirement_files(inputs.pip_args), pip_config
    )
    with _cache(options) as cache:
        resolver = _Resolver(options, cache, credentials, pip_config, network, run, reporter)
        resolved = []
        for target in targets:
            where = target.label or target.display
            if lock is not None and inputs.lock is not None:
                reporter.stage(f"selecting from {inputs.lock} for {where}")
                pins = locked_pins(lock, inputs.lock, target, inputs.extras, inputs.groups)
                locked = Resolution(pins, pip_version=version("pip"), environment=target.markers)
                resolution = _with_pip(resolver, locked, target)
            else:
                reporter.stage(f"resolving for {where} with pip")
                try:
                    resolution = _resolve(resolver, inputs, target, given)
                except ResolutionFailed:
                    # pip passes over an index that refuses it in silence, then finds nothing.
                    with resolver.fetcher() as fetcher:
                        fetcher.check_access(credentials.http_locations())
                    raise
                _check_extras(inputs, resolution)
            uv = _resolve_uv(resolver, target) if options.installer == "uv" else None
            resolved.append(Resolved(target, resolution, uv))
        return _collect_and_pack(options, inputs, given, resolved, resolver, reporter)


@contextmanager
def _cache(options: MakeOptions) -> Iterator[Cache]:
    if options.use_cache:
        yield Cache(options.cache_dir or default_cache_dir())
    else:
        with scratch_cache() as cache:
            yield cache


@dataclass(frozen=True)
class _Resolver:
    """How this run asks pip for a resolution: reused when nothing changed, else through a relay.

    pip reads the indexes through a :class:`Relay` whenever nothing but the indexes decides what
    it finds (see ``find.plain_indexes``) and they are HTTP: then every file pip downloads while
    resolving lands in the cache, and is not downloaded again. Otherwise pip reads them itself.
    """

    options: MakeOptions
    cache: Cache
    credentials: Credentials
    pip_config: Callable[[], str]
    network: Callable[[], Network]
    run: Runner
    reporter: Reporter

    def __call__(self, requirements: Sequence[str], target: Target) -> Resolution:
        key = resolution_key(requirements, self.options.pip_index_options(), target)
        memo = self.cache.resolution(key) if key else None
        max_age = 0 if self.options.refresh else MAX_AGE
        if memo is not None and (kept := remembered(memo, max_age)):
            return kept
        indexes = self.plain_indexes(requirements)
        if indexes is None or any(urlsplit(url).scheme not in ("http", "https") for url in indexes):
            return self._resolve(requirements, target, memo, self.options.pip_index_options())
        bare = [Location.parse(url).url for url in indexes]  # the fetcher logs in: pins stay bare
        with Relay(bare, self.fetcher(), jobs=self.options.jobs) as relay:
            if self.options.verbose:  # pip's own lines will name the relay, not the indexes
                self.reporter.stage(
                    f"pip reads {', '.join(bare)} through a relay at {relay.base} that keeps "
                    "every file it downloads"
                )
            return self._resolve(requirements, target, memo, (), relay)

    def fetcher(self) -> Fetcher:
        """A fetcher that logs in, checks certificates and goes through proxies as pip does."""
        return Fetcher(self.cache, self.credentials, jobs=self.options.jobs, network=self.network)

    def plain_indexes(self, requirements: Sequence[str]) -> list[str] | None:
        """The indexes pip would read, when nothing else decides what it finds there."""
        return plain_indexes(
            self.options.index_url,
            self.options.extra_index_urls,
            bool(self.options.find_links),
            requirement_files(requirements),
            os.environ,
            self.pip_config,
        )

    def _resolve(
        self,
        requirements: Sequence[str],
        target: Target,
        memo: Path | None,
        pip_options: Sequence[str],
        relay: Relay | None = None,
    ) -> Resolution:
        return resolve(
            requirements,
            pip_options,
            target=target,
            verbose=self.options.verbose,
            run=self.run,
            memo=memo,
            relay=relay,
        )


def _resolve(
    resolver: _Resolver, inputs: Inputs, target: Target, given: Mapping[str, GivenHashes]
) -> Resolution:
    """The inputs plus pip itself, which every bundle carries.

    Hash-pinned requirements files are a complete lock (pip's hash-checking mode accepts
    nothing less), so they are not resolved: each pinned file is found by its hash on the
    index pages, or, where that cannot be settled, by pip with ``--no-deps``; the lock is then
    checked to hold every dependency. Hash-checking mode refuses our unpinned "pip": it is
    resolved on its own (unless the inputs pin it themselves).
    """
    if not given:
        return resolver([*inputs.pip_args, "pip"], target)
    if inputs.projects:
        return _with_pip(resolver, resolver(inputs.pip_args, target), target)
    pins = _find_locked(resolver, inputs, given, target)
    if pins is not None:
        resolution = Resolution(pins, pip_version=version("pip"), environment=target.markers)
    else:
        resolution = resolver(["--no-deps", *inputs.pip_args], target)
    if missing := unmet(resolution.pins, {**resolution.environment}):
        raise BundleError(
            f"the hash-pinned requirements are not a complete lock: {'; '.join(missing)}; "
            "regenerate them with every dependency (pip-compile --generate-hashes, uv export)"
        )
    return _with_pip(resolver, resolution, target)


def _find_locked(
    resolver: _Resolver, inputs: Inputs, given: Mapping[str, GivenHashes], target: Target
) -> tuple[Pin, ...] | None:
    """A complete lock's files found by their hashes, without pip; None where pip must find them."""
    lines = locked_lines(given, target.markers)
    indexes = lines and resolver.plain_indexes(inputs.pip_args)
    if not lines or not indexes:
        return None
    bare = [Location.parse(url).url for url in indexes]  # the fetcher logs in: pins stay bare
    with resolver.fetcher() as fetcher:
        return find_locked(
            lines,
            bare,
            target,
            fetcher.read_page,
            lambda pins: fetcher.fetch_all([_download(p) for p in pins]),
            jobs=resolver.options.jobs,
        )


def _with_pip(resolver: _Resolver, resolution: Resolution, target: Target) -> Resolution:
    """``resolution`` plus pip's own wheel for the target, when it does not hold one already."""
    if any(p.name == "pip" for p in resolution.pins):
        return resolution
    own = resolver(["pip"], target).pins
    return replace(resolution, pins=tuple(sorted((*resolution.pins, *own), key=lambda p: p.name)))


def _check_extras(inputs: Inputs, resolution: Resolution) -> None:
    """pip only warns about an extra no project has; a bundle would silently lack it.

    Extras are asked of every project input; each must be known to at least one of them.
    """
    projects = {p.as_uri() for p in inputs.projects}
    pins = [p for p in resolution.pins if p.kind == "dir" and p.url in projects]
    known = sorted({e for pin in pins for e in pin.provides_extra})
    for extra in inputs.extras:
        if extra not in known:
            owner = pins[0].name if len(pins) == 1 else "none of the projects"
            raise UsageError(
                f"{owner} has no extra {extra!r} (extras there: {', '.join(known) or 'none'})"
            )


def _resolve_uv(resolver: _Resolver, target: Target) -> Pin:
    """The target's uv wheel, resolved on its own: a tool for installing, not part of the app.

    Only a wheel will do: uv's sdist needs a Rust compiler.
    """
    try:
        resolution = resolver(["--only-binary", ":all:", "uv"], target)
    except ResolutionFailed as exc:
        raise exc.reworded(
            ResolutionFailed,
            f"--installer uv: no uv wheel for {target.label or target.display} on the index; "
            "point --index-url/--find-links at uv's wheels, or bundle with --installer pip",
        ) from exc
    return next(p for p in resolution.pins if p.name == "uv")


@dataclass(frozen=True)
class Resolved:
    """What pip chose for one target."""

    target: Target
    resolution: Resolution
    uv: Pin | None = None
    """``--installer uv``: the uv wheel install.sh installs with; never in the venv or the lock."""


def _collect_and_pack(
    options: MakeOptions,
    inputs: Inputs,
    given: Mapping[str, GivenHashes],
    resolved: Sequence[Resolved],
    resolver: _Resolver,
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
    repairs = _repair(built, resolver.cache, reporter)
    built = {
        key: repairs[wheel].wheel if wheel in repairs else wheel for key, wheel in built.items()
    }
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
        wheel = fetched[pin.url] if pin.kind == "wheel" else built[pin.name, pin.version]
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
    files = requirement_files(inputs.pip_args)
    lines = [line.text.split(" --hash")[0] for line in requirement_lines(files)]
    return [*lines, *(arg for arg in inputs.pip_args if not arg.startswith("-"))]


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


def _check_built_for_targets(
    resolved: Sequence[Resolved], built: Mapping[tuple[str, str], Path]
) -> None:
    """Wheels built here serve a foreign target only when pure; name every one that is not."""
    unfit = sorted(
        {
            f"{pin.name} {pin.version} ({built[pin.name, pin.version].name}, for {r.target.label or r.target.display})"
            for r in resolved
            for pin in r.resolution.pins
            if pin.kind != "wheel" and not r.target.accepts(built[pin.name, pin.version].name)
        }
    )
    if unfit:
        raise BundleError(
            "these packages have no wheel for the target and build a platform-specific wheel "
            f"here: {'; '.join(unfit)}. Put a wheel built for the target in a folder and pass "
            "--find-links DIR, or run 'bundle make' on a machine of the target's kind and "
            "combine the bundles with 'bundle merge'"
        )


def _fetch(resolver: _Resolver, pins: Sequence[Pin], reporter: Reporter) -> dict[str, Path]:
    downloads = [_download(p) for p in {p.url: p for p in pins}.values()]
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


def _download(pin: Pin) -> Download:
    return Download(
        url=pin.url, filename=pin.filename, sha256=pin.sha256, label=f"{pin.name}=={pin.version}"
    )


def _network(pip_config: Callable[[], str], trusted_hosts: Sequence[str]) -> Network:
    """pip's CA bundle, proxy and trusted hosts: ``--trusted-host``, ``PIP_CERT``,
    ``PIP_PROXY``, ``PIP_TRUSTED_HOST``, and the same settings in pip.conf."""
    settings = pip_settings(os.environ, pip_config)
    return Network(
        cafile=settings.get("cert"),
        proxy=settings.get("proxy"),
        trusted_hosts=frozenset([*trusted_hosts, *settings.get("trusted-host", "").split()]),
    )


def _build(
    options: MakeOptions,
    pins: Sequence[Pin],
    sources: Mapping[str, Path],
    cache: Cache,
    reporter: Reporter,
    run: Runner,
) -> dict[tuple[str, str], Path]:
    """Build every source pin once (several targets may share one); keyed by name and version."""
    unique = {(p.name, p.version): p for p in pins if p.kind != "wheel"}
    jobs = [
        BuildJob(pin=p, source=str(sources[p.url]) if p.kind == "sdist" else p.source)
        for p in unique.values()
    ]
    if not jobs:
        return {}
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
