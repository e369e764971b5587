"""Each stage of ``bundle make`` run on its own, up to the one under test, so that a failure
points at the stage that broke (the journey tests, which run them all, stay).

    inputs -> resolve (pins per target) -> collect (wheels on disk) -> describe (manifest) -> pack
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from support.bundles import requirements
from support.index import LocalIndex
from wheelbundle.cache import Cache
from wheelbundle.collect.wheelhouse import Collected, collect
from wheelbundle.inputs.options import MakeOptions
from wheelbundle.inputs.sources import Inputs, read_inputs
from wheelbundle.net.session import Session
from wheelbundle.pip.runner import PipResult, Under, run_pip
from wheelbundle.progress import Silent
from wheelbundle.resolve.resolver import Resolved, Resolver, resolve_targets
from wheelbundle.target import host_target

Staged = tuple[MakeOptions, Inputs, Cache]
"""What ``bundle make`` holds before resolving: its options, the inputs read, the cache."""


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
        under: Under | None = None,
    ) -> PipResult:
        self.resolutions += "--report" in args
        return run_pip(args, verbose, target_file, indexes, under)


def staged(tmp_path: Path, index: LocalIndex) -> Staged:
    """A bundle of alpha and gamma for this machine; gamma is an sdist, so something is built."""
    req = requirements(tmp_path / "app", "alpha", "gamma")
    options = MakeOptions(
        inputs=(str(req),), outdir=tmp_path / "dist", index_url=index.url, version="1.0"
    )
    return options, read_inputs(options.inputs), Cache(tmp_path / "cache")


def resolved(stage: Staged, run: CountingPip | None = None) -> tuple[Session, list[Resolved]]:
    options, inputs, cache = stage
    lines = [line.text for line in inputs.requirements.lines]
    session = Session.create(options.pip, lines, cache, run or CountingPip(), Silent())
    resolver = Resolver(session, inputs.requirements)
    return session, resolve_targets(resolver, inputs, [host_target()], None, {})


def collected(stage: Staged) -> tuple[list[Resolved], Collected]:
    session, pins = resolved(stage)
    return pins, collect(pins, {}, session, Silent())
