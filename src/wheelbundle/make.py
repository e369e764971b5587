"""``bundle make``: resolve, collect, build, describe and pack, one stage after another.

Each stage lives in its own module; this one only passes frozen data from one to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.cache import Cache, default_cache_dir, scratch_cache
from wheelbundle.collect import collect
from wheelbundle.delta import against
from wheelbundle.describe import describe
from wheelbundle.hashes import given_hashes
from wheelbundle.inputs import read_inputs
from wheelbundle.manifest import Manifest
from wheelbundle.options import MakeOptions
from wheelbundle.pack import write_bundle
from wheelbundle.pip import Runner, run_pip
from wheelbundle.progress import Reporter, Silent
from wheelbundle.pylock import read_pylock
from wheelbundle.resolution import Resolver, resolve_targets
from wheelbundle.target import host_target, parse_target


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
        collected = collect(options, resolved, given, resolver, reporter)
        manifest, wheels = describe(options, inputs, resolved, collected)
        if options.since is not None:
            manifest, wheels = against(options.since, manifest, wheels)
        reporter.stage(f"packing {len(manifest.packages)} wheels")
        archive = write_bundle(options.outdir, manifest, wheels, options.sign_key)
        return MakeResult(archive=archive, manifest=manifest)


@contextmanager
def _cache(options: MakeOptions) -> Iterator[Cache]:
    if options.use_cache:
        yield Cache(options.cache_dir or default_cache_dir())
    else:
        with scratch_cache() as cache:
            yield cache
