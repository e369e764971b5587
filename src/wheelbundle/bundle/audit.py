"""``bundle audit ARCHIVE… --osv PATH``: every package of a bundle against known advisories,
on either side of the gap, from a copy of the OSV database (``format.osv``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelbundle.bundle.sbom import sbom
from wheelbundle.format.layout import read_manifest
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.osv import Advisory, read_advisories


@dataclass(frozen=True)
class Finding:
    """One package of one bundle that an advisory affects."""

    archive: Path
    name: str
    version: str
    wheel: str
    advisory: Advisory


def audit_bundles(archives: Sequence[Path], osv: Path) -> list[Finding]:
    """The findings of every bundle, by bundle, package and advisory id."""
    return audit_manifests([(archive, read_manifest(archive)) for archive in archives], osv)


def audit_manifests(manifests: Sequence[tuple[Path, Manifest]], osv: Path) -> list[Finding]:
    """The findings of bundles by their manifests (one being made has no archive yet)."""
    names = {p.name for _, m in manifests for p in m.packages}
    advisories = list(read_advisories(osv, names))
    findings = [
        Finding(archive, p.name, p.version, p.wheel, a)
        for archive, manifest in manifests
        for p in manifest.packages
        for a in advisories
        if a.package == p.name and a.affects(p.version)
    ]
    return sorted(findings, key=lambda f: (str(f.archive), f.name, f.advisory.id))


def findings_text(findings: Sequence[Finding]) -> str:
    """One line per finding: package, version, advisory and its aliases, the fix, severity."""
    lines = []
    for f in findings:
        a = f.advisory
        aliases = f" ({', '.join(a.aliases)})" if a.aliases else ""
        fixed = f"fixed in {', '.join(a.fixed)}" if a.fixed else "no fixed version"
        severity = f" [{a.severity}]" if a.severity else ""
        lines.append(
            f"{f.archive.name}: {f.name} {f.version}: {a.id}{aliases}, {fixed}{severity}: {a.summary}"
        )
    return "\n".join(lines)


def findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        [
            {
                "archive": str(f.archive),
                "package": f.name,
                "version": f.version,
                "id": f.advisory.id,
                "aliases": list(f.advisory.aliases),
                "fixed": list(f.advisory.fixed),
                "severity": f.advisory.severity,
                "summary": f.advisory.summary,
            }
            for f in findings
        ],
        indent=2,
    )


def sbom_with_vulnerabilities(manifest: Manifest, findings: Sequence[Finding]) -> dict[str, Any]:
    """The bundle's SBOM with a CycloneDX ``vulnerabilities`` entry per advisory, naming the
    components (wheels) it affects."""
    document = sbom(manifest)
    by_id: dict[str, dict[str, Any]] = {}
    for f in findings:
        a = f.advisory
        entry = by_id.setdefault(
            a.id,
            {
                "id": a.id,
                "source": {"name": "OSV", "url": f"https://osv.dev/vulnerability/{a.id}"},
                "description": a.summary,
                "affects": [],
            },
        )
        if a.aliases:
            entry["references"] = [{"id": alias, "source": {"name": "OSV"}} for alias in a.aliases]
        if a.severity and not a.severity.startswith("CVSS:"):
            word = {"moderate": "medium"}.get(a.severity.lower(), a.severity.lower())
            severity = word if word in _SEVERITIES else "unknown"
            entry["ratings"] = [{"severity": severity, "source": {"name": "OSV"}}]
        elif a.severity:
            entry["ratings"] = [
                {"vector": a.severity, "method": _method(a.severity), "source": {"name": "OSV"}}
            ]
        if {"ref": f.wheel} not in entry["affects"]:
            entry["affects"].append({"ref": f.wheel})
    if by_id:
        document["vulnerabilities"] = list(by_id.values())
    return document


_SEVERITIES = ("critical", "high", "medium", "low", "info", "none")


def _method(vector: str) -> str:
    """CycloneDX's name for a CVSS vector's version."""
    return {"CVSS:4.0": "CVSSv4", "CVSS:3.1": "CVSSv31", "CVSS:3.0": "CVSSv3"}.get(
        vector.split("/")[0], "other"
    )
