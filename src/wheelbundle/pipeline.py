"""``bundle make``: resolve, collect, build, describe and pack, one stage after another.

Each stage lives in its own module; this one only passes frozen data from one to the next.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.pylock import Pylock, is_valid_pylock_path

from wheelbundle.bundle.describe import bundle_name, describe
from wheelbundle.cache import Cache, default_cache_dir, scratch_cache
from wheelbundle.collect.plan import PlannedTarget, plan
from wheelbundle.collect.runtime import RuntimeFile, carrying, obtain_runtime, unpacked_python
from wheelbundle.collect.wheelhouse import collect
from wheelbundle.errors import UsageError
from wheelbundle.format.manifest import InputFile, Manifest
from wheelbundle.format.osv import require_source
from wheelbundle.inputs.options import MakeOptions
from wheelbundle.inputs.pinned_hashes import GivenHashes, given_hashes
from wheelbundle.inputs.policy import Policy, load_policy
from wheelbundle.inputs.sources import RELOCK, Inputs, read_inputs
from wheelbundle.net.session import Session
from wheelbundle.pack.delta import against
from wheelbundle.pack.write import check_outdir, write_bundle
from wheelbundle.pip.pythons import given_pythons
from wheelbundle.pip.runner import Runner, run_pip
from wheelbundle.progress import Reporter, Silent
from wheelbundle.resolve.locks import read_lock
from wheelbundle.resolve.locks.model import Lock
from wheelbundle.resolve.pylock import read_pylock
from wheelbundle.resolve.resolver import Resolved, Resolver, resolve_targets
from wheelbundle.review.audit import audit_manifests
from wheelbundle.review.policy import enforce, violations
from wheelbundle.target import Target, host_target, parse_target


@dataclass(frozen=True)
class MakeResult:
    archive: Path
    manifest: Manifest


@dataclass(frozen=True)
class PlanResult:
    """What ``bundle make --dry-run`` found: the bundle's name and each target's files."""

    name: str
    version: str
    targets: tuple[PlannedTarget, ...]
    inputs: tuple[InputFile, ...]


@dataclass(frozen=True)
class _Resolved:
    """The make so far: its inputs resolved for each target, and what the next stages need."""

    inputs: Inputs
    session: Session
    """The run's settings, cache, credentials and network, for the stages after resolving."""
    targets: tuple[Resolved, ...]
    given: Mapping[str, GivenHashes]
    lock: Pylock | Lock | None
    runtime: RuntimeFile | None


def make_bundle(
    options: MakeOptions, reporter: Reporter | None = None, run: Runner = run_pip
) -> MakeResult:
    reporter = reporter or Silent()
    check_outdir(options.outdir)
    policy = load_policy(options.policy) if options.policy else None
    _check_audit_inputs(options, policy)
    with _resolving(options, reporter, run) as made:
        with _runtime_python(made.runtime, made.session.cache) as runtime_python:
            collected = collect(made.targets, made.given, made.session, reporter, runtime_python)
        manifest, wheels = describe(
            made.inputs,
            made.targets,
            collected,
            options.name,
            options.version,
            _lock_format(made.lock),
        )
        if made.runtime is not None:
            manifest = carrying(manifest, made.runtime)
        if options.since is not None:
            manifest, wheels = against(options.since, manifest, wheels)
        if policy is not None:
            manifest = _judge(policy, manifest, options, made.runtime, reporter)
        reporter.stage(f"packing {len(manifest.packages)} wheels")
        runtime = made.runtime
        runtimes = {runtime.runtime.file: runtime.path} if runtime else {}
        archive = write_bundle(
            options.outdir, manifest, wheels, options.sign_key, runtimes, options.archive_format
        )
        return MakeResult(archive=archive, manifest=manifest)


def plan_bundle(
    options: MakeOptions, reporter: Reporter | None = None, run: Runner = run_pip
) -> PlanResult:
    """``make_bundle`` up to its resolution: what it would bundle, nothing built or written
    (the files pip read to resolve stay cached for the make that follows)."""
    reporter = reporter or Silent()
    with _resolving(options, reporter, run) as made:
        reporter.stage("asking the indexes the size of each file")
        with made.session.fetcher() as fetcher:
            planned = plan(made.targets, made.session.cache, fetcher)
        name, version = bundle_name(options.name, options.version, made.inputs, made.targets)
        return PlanResult(name, version, tuple(planned), tuple(made.inputs.files))


@contextmanager
def _resolving(options: MakeOptions, reporter: Reporter, run: Runner) -> Iterator[_Resolved]:
    inputs = read_inputs(options.inputs, options.extras, options.groups, options.resolve)
    if options.python_runtime and options.targets:
        raise UsageError(
            "--python-runtime sets the target (its Python, its platform): leave out --target"
        )
    lock = _lock(inputs.lock) if inputs.lock else None
    given = {} if lock else given_hashes(inputs.requirements)
    if inputs.ignored_lock is not None:
        reporter.stage(f"--resolve: not using {inputs.ignored_lock.name}; resolving with pip")
    with _cache(options) as cache:
        lines = [line.text for line in inputs.requirements.lines]
        session = Session.create(options.pip, lines, cache, run, reporter)
        runtime = _runtime(options, session, reporter)
        targets = _targets(options, runtime)
        _check_build_pythons(options.build_pythons, targets)
        resolved = resolve_targets(
            Resolver(session, inputs.requirements), inputs, targets, lock, given
        )
        yield _Resolved(inputs, session, tuple(resolved), given, lock, runtime)


def _lock(path: Path) -> Pylock | Lock:
    """A lock, read and checked against its project before anything is resolved: one that no
    longer matches would bundle versions nobody tested with the project as it is now."""
    if is_valid_pylock_path(path):
        return read_pylock(path)
    lock = read_lock(path)
    if why := lock.stale():
        raise UsageError(
            f"{path}: {why}, so the lock is stale; run '{RELOCK[lock.tool]}' to lock it "
            "again, or pass --resolve to resolve the project anew"
        )
    return lock


def _judge(
    policy: Policy,
    manifest: Manifest,
    options: MakeOptions,
    runtime: RuntimeFile | None,
    reporter: Reporter,
) -> Manifest:
    """The policy's verdict before the archive is written: a refused bundle never exists. The
    manifest of one that passes records the OSV copy it was judged against."""
    reporter.stage(f"checking the bundle against {policy.path}")
    osv = options.osv
    audit = (
        audit_manifests([(Path(manifest.top), manifest)], osv, options.osv_max_age) if osv else None
    )
    findings = audit.findings if audit else ()
    size = sum(p.size for p in manifest.packages) + (runtime.runtime.size if runtime else 0)
    enforce(
        policy, violations(policy, manifest, findings, size), "this bundle; nothing was written"
    )
    if audit is None or osv is None:
        return manifest
    reporter.stage(f"checked against {audit.snapshot.describe()}")
    return replace(manifest, audit=replace(audit.snapshot, source=osv.name))


def _check_audit_inputs(options: MakeOptions, policy: Policy | None) -> None:
    """What the policy's vulnerability rules need, checked before anything is resolved."""
    osv = options.osv
    if osv is not None and policy is None:
        raise UsageError(
            "--osv is read for --policy's vulnerability rules: give --policy FILE too, or "
            "check the bundle with bundle audit ARCHIVE --osv PATH"
        )
    if policy is not None and policy.deny_vulnerabilities and osv is None:
        raise UsageError(
            f"--policy {policy.path} denies vulnerabilities: give the OSV database to check "
            "against with --osv PATH"
        )
    if osv is not None:
        require_source(osv)


def _check_build_pythons(paths: Sequence[Path], targets: Sequence[Target]) -> None:
    """Each ``--build-python`` runs, and is of a target's Python: else it is a mistake."""
    wanted = {t.interpreter for t in targets}
    for python in given_pythons(paths):
        if python.tag not in wanted:
            raise UsageError(
                f"--build-python {python.path}: is Python {python.version} ({python.tag}), "
                f"and no target is ({', '.join(sorted(wanted))}); give one of a target's version"
            )


def _lock_format(lock: Pylock | Lock | None) -> str | None:
    if lock is None:
        return None
    if isinstance(lock, Pylock):
        return f"pylock.toml {lock.lock_version}"
    return f"{lock.tool} {lock.version}"


@contextmanager
def _runtime_python(runtime: RuntimeFile | None, cache: Cache) -> Iterator[Path | None]:
    if runtime is None:
        yield None
    else:
        with unpacked_python(runtime, cache.root / "builds") as python:
            yield python


def _runtime(options: MakeOptions, session: Session, reporter: Reporter) -> RuntimeFile | None:
    if not options.python_runtime:
        return None
    reporter.stage("reading the Python runtime")
    with session.fetcher() as fetcher:
        return obtain_runtime(options.python_runtime, fetcher)


def _targets(options: MakeOptions, runtime: RuntimeFile | None) -> list[Target]:
    if runtime is not None:
        return [runtime.target()]
    return [parse_target(spec) for spec in options.targets] or [host_target()]


@contextmanager
def _cache(options: MakeOptions) -> Iterator[Cache]:
    if options.use_cache:
        yield Cache(options.cache_dir or default_cache_dir())
    else:
        with scratch_cache() as cache:
            yield cache
