"""The describe stage on its own: the manifest names each wheel, its origin and its hash."""

from __future__ import annotations

from pathlib import Path

from support.index import LocalIndex
from support.stages import collected, staged

from wheelbundle.bundle.describe import describe
from wheelbundle.cache import sha256_file


def test_describe_names_each_wheel_its_origin_and_its_hash_in_the_manifest(
    tmp_path: Path, index: LocalIndex
) -> None:
    stage = staged(tmp_path, index)
    options, inputs, _ = stage
    pinned, wheelhouse = collected(stage)
    manifest, wheels = describe(inputs, pinned, wheelhouse, options.name, options.version)
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
