"""The collect stage on its own: every pinned file on disk as a checked wheel."""

from __future__ import annotations

from pathlib import Path

from support.index import LocalIndex
from support.stages import resolved, staged

from wheelbundle.cache import sha256_file
from wheelbundle.collect.wheelhouse import collect
from wheelbundle.format.wheelcheck import check_wheel
from wheelbundle.progress import Silent


def test_collect_puts_every_wheel_on_disk_checked_and_builds_the_sdist(
    tmp_path: Path, index: LocalIndex
) -> None:
    session, pinned = resolved(staged(tmp_path, index))
    collected = collect(pinned, {}, session, Silent())
    for pin in pinned[0].resolution.pins:
        wheel = collected.wheel(pin)
        assert wheel.is_file() and wheel.suffix == ".whl"
        if pin.kind == "wheel":
            assert sha256_file(wheel) == pin.sha256  # as the index published it
        check_wheel(wheel, pin.name)
    assert set(collected.built) == {("gamma", "1.0", "")}  # built once, by this Python
    assert collected.repairs == {}  # pure: nothing to repair
