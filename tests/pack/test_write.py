"""The pack stage on its own: the archive holds exactly what was described, and verifies."""

from __future__ import annotations

from pathlib import Path

from support.bundles import member_names
from support.index import LocalIndex
from support.stages import collected, staged

from wheelbundle.bundle.describe import describe
from wheelbundle.pack.write import write_bundle
from wheelbundle.review.verify import verify_bundle


def test_pack_writes_exactly_the_described_bundle_and_it_verifies(
    tmp_path: Path, index: LocalIndex
) -> None:
    stage = staged(tmp_path, index)
    options, inputs, _ = stage
    pinned, wheelhouse = collected(stage)
    manifest, wheels = describe(inputs, pinned, wheelhouse, options.name, options.version)
    archive = write_bundle(options.outdir, manifest, wheels)
    assert list(options.outdir.iterdir()) == [archive]
    top = f"{manifest.top}/"
    carried = sorted(n for n in member_names(archive) if n.startswith(f"{top}wheels/"))
    assert carried == sorted(f"{top}wheels/{w}" for w in wheels)
    assert verify_bundle(archive).manifest == manifest
