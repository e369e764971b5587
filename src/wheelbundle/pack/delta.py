"""Delta bundles: a later release without the wheels an earlier bundle already carried across.

Every byte that crosses an air gap is scanned and signed off, so a weekly release that changes
one package should cost that package. ``bundle make --since OLD`` leaves out each wheel OLD
carries (same file name, same sha256) and records OLD's identity, the sha256 of its SHA256SUMS,
which names every file of it. Everything else is as in a full bundle: the manifest, locks, SBOM
and SHA256SUMS list every wheel, so the server checks the wheels taken from OLD (install.sh
``--base``) exactly as it checks the ones that crossed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from wheelbundle.errors import UsageError
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import SUMS
from wheelbundle.format.manifest import Base, Manifest
from wheelbundle.review.verify import verify_bundle


def against(
    since: Path, manifest: Manifest, wheels: Mapping[str, Path]
) -> tuple[Manifest, dict[str, Path]]:
    """``manifest`` as a delta from the bundle ``since``, and the wheels left to carry."""
    old = verify_bundle(since).manifest
    if old.base is not None:
        raise UsageError(f"{since} is itself a delta bundle; make the delta against a full bundle")
    if (old.name, old.version) == (manifest.name, manifest.version):
        raise UsageError(
            f"{since} is {old.name} {old.version} too; a delta needs a new version "
            "(--version), so that the two unpack into different folders"
        )
    with BundleArchive(since) as archive:
        identity = archive.sha256(SUMS)
    had = {p.wheel: p.sha256 for p in old.packages}
    carried = tuple(sorted(p.wheel for p in manifest.packages if had.get(p.wheel) == p.sha256))
    base = Base(name=old.name, version=old.version, sums_sha256=identity, wheels=carried)
    left = {name: path for name, path in wheels.items() if name not in carried}
    return replace(manifest, base=base), left
