"""``bundle merge``: one multi-target bundle from bundles built on different machines.

A CI matrix builds the native wheels of each platform on a runner of that platform; merging
their bundles gives one archive whose ``install.sh`` picks the server's target. Bundles that were
made from different inputs, or that hold two different files under one wheel name, are refused.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path

from wheelbundle.errors import UsageError
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.layout import lock_name, runtime_member, wheel_member
from wheelbundle.format.manifest import Manifest, Package, TargetEntry
from wheelbundle.pack.write import check_outdir, write_bundle
from wheelbundle.review.verify import verify_bundle


def merge_bundles(archives: Sequence[Path], outdir: Path) -> tuple[Path, Manifest]:
    """Verify every input, check they agree, and write the merged archive into ``outdir``."""
    if len(archives) < 2:
        raise UsageError("merge needs at least two bundles")
    check_outdir(outdir)
    manifests = [verify_bundle(a).manifest for a in archives]
    for archive, manifest in zip(archives, manifests, strict=True):
        if manifest.base is not None:
            raise UsageError(
                f"{archive} is a delta bundle (it lacks the wheels of {manifest.base.name} "
                f"{manifest.base.version}); merge full bundles"
            )
    _check_agreement(archives, manifests)
    packages: dict[str, Package] = {}
    for archive, manifest in zip(archives, manifests, strict=True):
        for p in manifest.packages:
            if packages.setdefault(p.wheel, p).sha256 != p.sha256:
                raise UsageError(
                    f"{archive}: {p.wheel} differs from the file of the same name in another "
                    "bundle; rebuild one of them so that the two agree"
                )
    targets = _merged_targets(archives, manifests)
    runtime_hashes: dict[str, str] = {}
    for t in targets:
        if (
            t.runtime
            and runtime_hashes.setdefault(t.runtime.file, t.runtime.sha256) != t.runtime.sha256
        ):
            raise UsageError(
                f"two different Python runtimes are both called {t.runtime.file}; rename one"
            )
    first = manifests[0]
    merged = dataclasses.replace(
        first,
        created=max(m.created for m in manifests),
        targets=targets,
        packages=tuple(sorted(packages.values(), key=lambda p: (p.name, p.wheel))),
    )
    with tempfile.TemporaryDirectory(prefix="wheelbundle-merge-") as tmp:
        wheels: dict[str, Path] = {}
        runtimes: dict[str, Path] = {}
        for archive, manifest in zip(archives, manifests, strict=True):
            with BundleArchive(archive) as source:
                for p in manifest.packages:
                    if p.wheel not in wheels:
                        wheels[p.wheel] = source.copy_to(wheel_member(p.wheel), Path(tmp))
                for t in manifest.targets:  # each target keeps its own interpreter
                    if t.runtime is not None and t.runtime.file not in runtimes:
                        member = runtime_member(t.runtime.file)
                        runtimes[t.runtime.file] = source.copy_to(member, Path(tmp))
        return write_bundle(outdir, merged, wheels, runtimes=runtimes), merged


def _check_agreement(archives: Sequence[Path], manifests: Sequence[Manifest]) -> None:
    first = manifests[0]
    inputs = {(Path(i.path).name, i.sha256) for i in first.inputs}
    for archive, manifest in zip(archives[1:], manifests[1:], strict=True):
        if (manifest.name, manifest.version) != (first.name, first.version):
            raise UsageError(
                f"{archive} is {manifest.name} {manifest.version}, not {first.name} {first.version}; "
                "merge only bundles of the same name and version (--name/--version)"
            )
        if {(Path(i.path).name, i.sha256) for i in manifest.inputs} != inputs:
            raise UsageError(
                f"{archive} was made from different requirements than {archives[0]}; merge only "
                "bundles made from the same input files"
            )


def _merged_targets(
    archives: Sequence[Path], manifests: Sequence[Manifest]
) -> tuple[TargetEntry, ...]:
    targets: list[TargetEntry] = []
    for archive, manifest in zip(archives, manifests, strict=True):
        for t in manifest.targets:
            if any(t.name == seen.name for seen in targets):
                raise UsageError(f"{archive}: target {t.name} is already in another bundle")
            targets.append(dataclasses.replace(t, lock=lock_name(t.name, single=False)))
    return tuple(targets)
