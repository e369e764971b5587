"""The resolve stage on its own: pins for each target, remembered for the same inputs."""

from __future__ import annotations

from pathlib import Path

from support.index import LocalIndex
from support.stages import CountingPip, resolved, staged

from wheelbundle.target import host_target


def test_resolve_pins_every_distribution_for_the_target_and_remembers_it(
    tmp_path: Path, index: LocalIndex
) -> None:
    stage, run = staged(tmp_path, index), CountingPip()
    _, pinned = resolved(stage, run)
    ((target, resolution, uv),) = ((r.target, r.resolution, r.uv) for r in pinned)
    assert target == host_target() and uv is None
    pins = {p.name: (p.version, p.kind) for p in resolution.pins}
    assert pins["alpha"] == ("1.0", "wheel") and pins["beta"] == ("2.0", "wheel")
    assert pins["gamma"] == ("1.0", "sdist") and pins["pip"][1] == "wheel"
    assert all(p.sha256 for p in resolution.pins)  # every file pinned by its hash
    first = run.resolutions
    _, again = resolved(stage, run)  # the same inputs: the kept resolution, no pip run
    assert run.resolutions == first
    assert again[0].resolution.pins == resolution.pins
