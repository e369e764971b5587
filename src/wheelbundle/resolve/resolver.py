"""The resolution stage: for each target, the exact files pip would install there.

One entry point, :func:`resolve_targets`. Each target gets pip's answer by the quickest road
that still is pip's answer: a pylock.toml's own selection; a stored resolution of the very same
inputs (``memo``); a complete hash-pinned lock's files found by their hashes on the index pages
(``find``); else pip itself, reading the indexes through a relay that keeps every file it
downloads (``relay``), its JSON report read by ``resolve``. Every bundle carries pip, so pip's
own wheel is resolved for each target too, and uv's with ``--installer uv``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

from packaging.pylock import Pylock

from wheelbundle.errors import BundleError, PipFailed, ResolutionFailed, UsageError
from wheelbundle.format.pins import Pin, Resolution
from wheelbundle.inputs.pinned_hashes import GivenHashes
from wheelbundle.inputs.reqfile import RequirementFiles, asked_for, read_requirements
from wheelbundle.inputs.sources import RELOCK, Inputs
from wheelbundle.net.credentials import Location
from wheelbundle.net.fetch import Download
from wheelbundle.net.session import Session
from wheelbundle.pip.runner import FIX_LINE
from wheelbundle.resolve.dry_run import remembered, resolve, unmet
from wheelbundle.resolve.find import find_locked, locked_lines, plain_indexes
from wheelbundle.resolve.locks.model import Lock
from wheelbundle.resolve.memo import MAX_AGE, resolution_key
from wheelbundle.resolve.pylock import locked_pins
from wheelbundle.resolve.relay import Pages, Relay
from wheelbundle.run import stop_all
from wheelbundle.target import Target


@dataclass(frozen=True)
class Resolved:
    """What pip chose for one target."""

    target: Target
    resolution: Resolution
    uv: Pin | None = None
    """``--installer uv``: the uv wheel install.sh installs with; never in the venv or the lock."""


def resolve_targets(
    resolver: Resolver,
    inputs: Inputs,
    targets: Sequence[Target],
    lock: Pylock | Lock | None,
    given: Mapping[str, GivenHashes],
) -> list[Resolved]:
    """One resolution per target, in order: a lock's selection, else pip's answer.

    Targets are resolved side by side (pip is one process each, waiting on the network as much
    as working), sharing the index pages they read (``Pages``) and every file (the cache).
    """
    if len(targets) == 1:
        return [_resolve_target(resolver, inputs, targets[0], lock, given)]
    resolver.plain_indexes()  # pip's configuration, read once before the threads ask
    resolver = replace(resolver, pages=Pages())
    workers = min(len(targets), max(2, os.cpu_count() or 1), max(1, resolver.session.settings.jobs))
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(_resolve_target, resolver, inputs, t, lock, given) for t in targets]
    try:
        return [future.result() for future in futures]
    except BaseException:  # one target failed, or the run is interrupted: the others stop now
        for future in futures:
            future.cancel()
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True)


def _resolve_target(
    resolver: Resolver,
    inputs: Inputs,
    target: Target,
    lock: Pylock | Lock | None,
    given: Mapping[str, GivenHashes],
) -> Resolved:
    where = target.label or target.display
    if lock is not None and not isinstance(lock, Pylock):
        resolution = _from_lock(resolver, lock, inputs, target)
    elif lock is not None and inputs.lock is not None:
        resolver.session.reporter.stage(f"selecting from {inputs.lock} for {where}")
        pins = locked_pins(lock, inputs.lock, target, inputs.extras, inputs.groups)
        locked = Resolution(pins, pip_version=version("pip"), environment=target.markers)
        resolution = _with_pip(resolver, locked, target)
    else:
        resolver.session.reporter.stage(f"resolving for {where} with pip")
        try:
            resolution = _resolve(resolver, inputs, target, given)
        except ResolutionFailed as exc:
            if placed := _placed(exc, inputs.requirements):
                raise placed from exc
            # pip passes over an index that refuses it in silence, then finds nothing.
            with resolver.session.fetcher() as fetcher:
                fetcher.check_access(resolver.session.credentials.http_locations())
            raise
        _check_extras(inputs, resolution)
    uv = _resolve_uv(resolver, target) if resolver.session.settings.installer == "uv" else None
    return Resolved(target, resolution, uv)


@dataclass(frozen=True)
class Resolver:
    """How this run asks pip for a resolution: reused when nothing changed, else through a relay.

    pip reads the indexes through a :class:`Relay` whenever nothing but the indexes decides what
    it finds (see ``find.plain_indexes``) and they are HTTP: then every file pip downloads while
    resolving lands in the cache, and is not downloaded again. Otherwise pip reads them itself.
    """

    session: Session
    requirements: RequirementFiles
    """The inputs' requirements files, read once: every resolution here asks for them."""
    pages: Pages | None = None
    """With several targets, the index pages this run read, for the other targets' relays
    (one target reads each page once anyway, and need not hold them)."""

    def __call__(self, requirements: Sequence[str], target: Target) -> Resolution:
        key = resolution_key(
            requirements, self.requirements, self.session.settings.index_options(), target
        )
        memo = self.session.cache.resolution(key) if key else None
        max_age = 0 if self.session.settings.refresh else MAX_AGE
        if memo is not None and (kept := remembered(memo, max_age)):
            return kept
        indexes = self.plain_indexes()
        if indexes is None or any(urlsplit(url).scheme not in ("http", "https") for url in indexes):
            return self._resolve(requirements, target, memo, self.session.settings.index_options())
        bare = [Location.parse(url).url for url in indexes]  # the fetcher logs in: pins stay bare
        asked = asked_for(requirements, self.requirements)  # their pages are read at once
        bar = self.session.reporter.bar(
            f"resolving for {target.label or target.display}", None, "projects"
        )
        relay = Relay(
            bare,
            self.session.fetcher(),
            jobs=self.session.settings.jobs,
            target=target,
            requirements=asked,
            pages=self.pages,
            bar=bar,
        )
        with relay, closing(bar):
            if (
                self.session.settings.verbose
            ):  # pip's own lines will name the relay, not the indexes
                self.session.reporter.stage(
                    f"pip reads {', '.join(bare)} through a relay at {relay.root} that keeps "
                    "every file it downloads"
                )
            resolution = self._resolve(requirements, target, memo, (), relay)
        self._report_read_ahead(relay, resolution)
        self._warn_yanked(relay, resolution)
        return resolution

    def _warn_yanked(self, relay: Relay, resolution: Resolution) -> None:
        """pip takes a yanked file for a pin (PEP 592) with a warning only ``-v`` would show."""
        for pin in resolution.pins:
            if (reason := relay.yanked(pin.filename)) is not None:
                self.session.reporter.warn(
                    f"{pin.name} {pin.version} is yanked from the index"
                    + (f" ({reason})" if reason else "")
                    + "; pip takes a yanked version only when pinned with ==, so check that it "
                    "is the one you mean"
                )

    def _report_read_ahead(self, relay: Relay, resolution: Resolution) -> None:
        """How many files the relay read ahead, and the bytes of those the bundle will not use."""
        ahead = relay.files_read_ahead()
        if not ahead:
            return
        pinned = {pin.url.partition("#")[0] for pin in resolution.pins}
        unused = [size for url, size in ahead.items() if url not in pinned]
        self.session.reporter.stage(
            f"read {len(ahead)} files ahead of pip; {len(unused)} not needed "
            f"({sum(unused) / 1e6:.1f} MB)"
        )

    def plain_indexes(self) -> list[str] | None:
        """The indexes pip would read, when nothing else decides what it finds there."""
        return plain_indexes(
            self.session.settings.index_url,
            self.session.settings.extra_index_urls,
            bool(self.session.settings.find_links),
            self.requirements,
            os.environ,
            self.session.pip_config,
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
            verbose=self.session.settings.verbose,
            run=self.session.run,
            memo=memo,
            relay=relay,
        )


def _resolve(
    resolver: Resolver, inputs: Inputs, target: Target, given: Mapping[str, GivenHashes]
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
    if inputs.lock is None and (missing := unmet(resolution.pins, {**resolution.environment})):
        raise BundleError(
            f"the hash-pinned requirements are not a complete lock: {'; '.join(missing)}; "
            "regenerate them with every dependency (pip-compile --generate-hashes, uv export)"
        )
    return _with_pip(resolver, resolution, target)


def _from_lock(resolver: Resolver, lock: Lock, inputs: Inputs, target: Target) -> Resolution:
    """What another tool's lock installs on the target, by the road of a hash-pinned lock: each
    file found by its locked hash on the lock's indexes (or the ones given), else by pip in
    hash-checking mode with ``--no-deps``; source trees (the project, workspace members) and
    pip's own wheel by one more pip run; then the lock checked to hold every dependency."""
    where = target.label or target.display
    selected = lock.select(target.markers, inputs.extras, inputs.groups)
    resolver.session.reporter.stage(
        f"using {lock.path.name}: {len(selected)} packages locked for {where}"
    )
    files = [p for p in selected if p.tree is None]
    text = "".join(
        f"{p.name}=={p.version} {' '.join(f'--hash=sha256:{h}' for h in sorted(p.sha256s))}\n"
        for p in files
    )
    requirements = read_requirements([resolver.session.cache.locked_requirements(text)])
    given = {
        p.name: GivenHashes(
            p.name,
            frozenset(("sha256", h) for h in p.sha256s),
            where=f"{lock.path.name} ({p.name} {p.version})",
            requirement=f"{p.name}=={p.version}",
        )
        for p in files
    }
    settings = resolver.session.settings
    if settings.index_url is None and not settings.find_links and lock.indexes:
        settings = replace(settings, index_url=lock.indexes[0], extra_index_urls=lock.indexes[1:])
    locked = replace(
        resolver, session=replace(resolver.session, settings=settings), requirements=requirements
    )
    as_file = replace(  # the lock is checked whole below, with its source trees
        inputs, pip_args=("-r", str(requirements.files[0])), projects=(), requirements=requirements
    )
    pins = _find_locked(locked, as_file, given, target)
    if pins is None:
        pins = locked(["--no-deps", *as_file.pip_args], target).pins if files else ()
    # The source trees and pip's own wheel in one pip run, hash-checking mode aside.
    trees = sorted({str(p.tree) for p in selected if p.tree is not None})
    more = [*trees, *([] if any(p.name == "pip" for p in pins) else ["pip"])]
    built = locked(["--no-deps", *more], target).pins
    merged = {p.name: p for p in (*pins, *(replace(b, requested=b.kind == "dir") for b in built))}
    resolution = Resolution(
        tuple(sorted(merged.values(), key=lambda p: p.name)),
        pip_version=version("pip"),
        environment=target.markers,
    )
    if missing := unmet(resolution.pins, {**resolution.environment}):
        raise BundleError(
            f"{lock.path} does not hold every dependency for {where}: {'; '.join(missing)}; "
            f"lock it again ('{RELOCK[lock.tool]}')"
        )
    return resolution


def _find_locked(
    resolver: Resolver, inputs: Inputs, given: Mapping[str, GivenHashes], target: Target
) -> tuple[Pin, ...] | None:
    """A complete lock's files found by their hashes, without pip; None where pip must find them."""
    lines = locked_lines(given, target.markers)
    indexes = lines and resolver.plain_indexes()
    if not lines or not indexes:
        return None
    bare = [Location.parse(url).url for url in indexes]  # the fetcher logs in: pins stay bare
    with resolver.session.fetcher() as fetcher:
        return find_locked(
            lines,
            bare,
            target,
            fetcher.read_page,
            lambda pins: fetcher.fetch_all([download_of(p) for p in pins]),
            jobs=resolver.session.settings.jobs,
        )


def _with_pip(resolver: Resolver, resolution: Resolution, target: Target) -> Resolution:
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


def _placed(exc: ResolutionFailed, files: RequirementFiles) -> PipFailed | None:
    """A bad requirement pip quoted without saying where, placed by its text in the files read."""
    quoted = re.match(r"Invalid requirement: '(.+?)'", str(exc))
    line = files.line_holding(quoted[1]) if quoted else None
    if line is None:
        return None
    return exc.reworded(ResolutionFailed, f"{line.file} line {line.number}: {exc}; {FIX_LINE}")


def _resolve_uv(resolver: Resolver, target: Target) -> Pin:
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


def download_of(pin: Pin) -> Download:
    """What to fetch for a pin: its file, and the hash the index gave for it."""
    return Download(
        url=pin.url, filename=pin.filename, sha256=pin.sha256, label=f"{pin.name}=={pin.version}"
    )
