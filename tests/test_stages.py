"""Each stage of ``bundle make`` on its own, in the order the data flows, so that a failure
points at the stage that broke rather than at the whole pipeline (the journey tests, which run
them all, stay).

    inputs -> resolve (pins per target) -> collect (wheels on disk) -> describe (manifest) -> pack
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from bundles import member_names, requirements
from index import LocalIndex

from wheelbundle.bundle.describe import describe
from wheelbundle.bundle.verify import verify_bundle
from wheelbundle.cache import Cache, sha256_file
from wheelbundle.collect.wheelhouse import Collected, collect
from wheelbundle.format.wheelcheck import check_wheel
from wheelbundle.inputs.options import MakeOptions
from wheelbundle.inputs.sources import Inputs, read_inputs
from wheelbundle.pack.write import write_bundle
from wheelbundle.pip.runner import PipResult, run_pip
from wheelbundle.progress import Silent
from wheelbundle.resolve.resolver import Resolved, Resolver, resolve_targets
from wheelbundle.target import host_target


class CountingPip:
    """The real pip runner, counting the resolutions it runs."""

    def __init__(self) -> None:
        self.resolutions = 0

    def __call__(
        self,
        args: Sequence[str],
        verbose: bool = False,
        target_file: Path | None = None,
        indexes: Sequence[str] = (),
    ) -> PipResult:
        self.resolutions += "--report" in args
        return run_pip(args, verbose, target_file, indexes)


@pytest.fixture
def staged(tmp_path: Path, index: LocalIndex) -> tuple[MakeOptions, Inputs, Cache]:
    req = requirements(tmp_path / "app", "alpha", "gamma")  # gamma is an sdist: it is built
    options = MakeOptions(
        inputs=(str(req),), outdir=tmp_path / "dist", index_url=index.url, version="1.0"
    )
    return options, read_inputs(options.inputs), Cache(tmp_path / "cache")


def _resolved(
    staged: tuple[MakeOptions, Inputs, Cache], run: CountingPip
) -> tuple[Resolver, list[Resolved]]:
    options, inputs, cache = staged
    resolver = Resolver.create(options.pip, inputs, cache, run, Silent())
    return resolver, resolve_targets(resolver, inputs, [host_target()], None, {})


def test_inputs_read_a_requirements_file_once_into_pip_arguments_and_its_lines(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> None:
    options, inputs, _ = staged
    assert inputs.pip_args == ("-r", options.inputs[0])
    assert inputs.requirements.requirements() == ["alpha", "gamma"]
    assert [f.path for f in inputs.files] == [options.inputs[0]]


def test_resolve_pins_every_distribution_for_the_target_and_remembers_it(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> None:
    run = CountingPip()
    _, resolved = _resolved(staged, run)
    ((target, resolution, uv),) = ((r.target, r.resolution, r.uv) for r in resolved)
    assert target == host_target() and uv is None
    pins = {p.name: (p.version, p.kind) for p in resolution.pins}
    assert pins["alpha"] == ("1.0", "wheel") and pins["beta"] == ("2.0", "wheel")
    assert pins["gamma"] == ("1.0", "sdist") and pins["pip"][1] == "wheel"
    assert all(p.sha256 for p in resolution.pins)  # every file pinned by its hash
    first = run.resolutions
    _, again = _resolved(staged, run)  # the same inputs: the kept resolution, no pip run
    assert run.resolutions == first
    assert again[0].resolution.pins == resolution.pins


def test_collect_puts_every_wheel_on_disk_checked_and_builds_the_sdist(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> None:
    resolver, resolved = _resolved(staged, CountingPip())
    collected = collect(resolved, {}, resolver, Silent())
    for pin in resolved[0].resolution.pins:
        wheel = collected.wheel(pin)
        assert wheel.is_file() and wheel.suffix == ".whl"
        if pin.kind == "wheel":
            assert sha256_file(wheel) == pin.sha256  # as the index published it
        check_wheel(wheel, pin.name)
    assert set(collected.built) == {("gamma", "1.0")}
    assert collected.repairs == {}  # pure: nothing to repair


def _collected(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> tuple[list[Resolved], Collected]:
    resolver, resolved = _resolved(staged, CountingPip())
    return resolved, collect(resolved, {}, resolver, Silent())


def test_describe_names_each_wheel_its_origin_and_its_hash_in_the_manifest(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> None:
    options, inputs, _ = staged
    resolved, collected = _collected(staged)
    manifest, wheels = describe(inputs, resolved, collected, options.name, options.version)
    assert (manifest.name, manifest.version) == ("app", "1.0")
    origins = {p.name: p.origin for p in manifest.packages}
    assert origins == {
        "alpha": "index-wheel",
        "beta": "index-wheel",
        "gamma": "built-from-sdist",
        "pip": "index-wheel",
    }
    assert set(wheels) == {p.wheel for p in manifest.packages}
    for package in manifest.packages:
        assert sha256_file(wheels[package.wheel]) == package.sha256
    (entry,) = manifest.targets
    assert sorted(entry.wheels) == sorted(wheels)


def test_pack_writes_exactly_the_described_bundle_and_it_verifies(
    staged: tuple[MakeOptions, Inputs, Cache],
) -> None:
    options, inputs, _ = staged
    resolved, collected = _collected(staged)
    manifest, wheels = describe(inputs, resolved, collected, options.name, options.version)
    archive = write_bundle(options.outdir, manifest, wheels)
    assert list(options.outdir.iterdir()) == [archive]
    top = f"{manifest.top}/"
    carried = sorted(n for n in member_names(archive) if n.startswith(f"{top}wheels/"))
    assert carried == sorted(f"{top}wheels/{w}" for w in wheels)
    assert verify_bundle(archive).manifest == manifest
