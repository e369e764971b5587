"""``bundle inspect``: what a bundle holds, read from its manifest, as a table or as JSON.

A package whose license is ``unknown`` declared none that could be read as SPDX (see sbom.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wheelbundle.format.layout import read_manifest
from wheelbundle.review.summary import bundle_summary
from wheelbundle.target import implementation_display


def inspect_data(path: Path) -> dict[str, Any]:
    """What ``bundle inspect --json`` prints: the bundle's summary (see ``summary.py``)."""
    return bundle_summary(read_manifest(path), path)


def inspect_bundle(path: Path) -> str:
    """A readable table: targets, then one row per package, then totals."""
    manifest = read_manifest(path)
    lines = [
        f"{manifest.name} {manifest.version}  (made {manifest.created} by wheelbundle {manifest.tool_version})"
    ]
    versions = {p.wheel: p.version for p in manifest.packages}
    for t in manifest.targets:
        installer = f", installs with uv {versions.get(t.uv_wheel)}" if t.uv_wheel else ""
        lines.append(
            f"target {t.name}: {implementation_display(t.implementation)} {t.python_version} on {t.platform}, lock {t.lock}{installer}"
        )
    lines += [
        f"from the lock {i.path} ({i.lock}), sha256 {i.sha256}" for i in manifest.inputs if i.lock
    ]
    rows = [("PACKAGE", "VERSION", "ORIGIN", "LICENSE", "SIZE")]
    rows += [
        (p.name, p.version, p.origin, p.license or "unknown", human_size(p.size))
        for p in manifest.packages
    ]
    lines += _table(rows)
    total = sum(p.size for p in manifest.packages)
    lines.append(
        f"{len(manifest.packages)} packages, {human_size(total)} of wheels, archive {human_size(path.stat().st_size)}"
    )
    lines += [
        f"runtime: CPython {t.runtime.python} for {t.runtime.machine} (glibc {t.runtime.glibc} or "
        f"later), {human_size(t.runtime.size)}, from {t.runtime.source}; install.sh needs no "
        "Python on the server"
        for t in manifest.targets
        if t.runtime is not None
    ]
    if manifest.base is not None:
        lines.append(
            f"a delta from {manifest.base.name} {manifest.base.version}: it takes "
            f"{len(manifest.base.wheels)} of its wheels from that bundle (install.sh --base)"
        )
    lines += [
        f"{p.name} was built here and repaired for {p.repaired}; it carries "
        + (", ".join(g.name for g in p.grafted) or "no library")
        for p in manifest.packages
        if p.repaired
    ]
    return "\n".join(lines)


def plan_table(summary: dict[str, Any]) -> str:
    """A dry run's summary for a person: per target, a row per file, then the total."""
    lines = []
    for target in summary["targets"]:
        files = [p for p in summary["packages"] if target["name"] in p["targets"]]
        lines.append(
            f"{summary['name']} {summary['version']} would hold, for {target['name']} "
            f"({implementation_display(target['implementation'])} {target['python_version']}):"
        )
        rows = [("PACKAGE", "VERSION", "ORIGIN", "FILE", "SIZE")]
        rows += [
            (p["name"], p["version"], p["origin"], p["file"],
             "to build" if p["size"] is None and p["wheel"] is None
             else "unknown" if p["size"] is None else human_size(p["size"]))
            for p in files
        ]  # fmt: skip
        lines += _table(rows, indent="  ")
        known = [p["size"] for p in files if p["size"] is not None]
        unsized = len(files) - len(known)
        lines.append(
            f"  {len(files)} packages, {human_size(sum(known))}"
            + (f" ({unsized} more whose size is known once built or fetched)" if unsized else "")
        )
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, str, str, str, str]], indent: str = "") -> list[str]:
    """Four columns as wide as their widest cell, then the size, right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return [
        indent
        + "  ".join(f"{cell:<{width}}" for cell, width in zip(r[:4], widths, strict=True))
        + f"  {r[4]:>9}"
        for r in rows
    ]


def inspect_json(path: Path) -> str:
    return json.dumps(inspect_data(path), indent=2)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
