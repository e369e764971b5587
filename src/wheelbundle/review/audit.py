"""``bundle audit ARCHIVE… --osv PATH``: every package of a bundle against known advisories,
on either side of the gap, from a copy of the OSV database (``format.osv``).

One vulnerability is one finding: osv.dev's PyPI export carries most CVEs twice, as a PYSEC
record and its GHSA twin, each naming the other in ``aliases``; the records that name each
other are joined, with every id, the highest severity any of them gives, and the fix that
applies to the version installed.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from wheelbundle.format.manifest import Manifest
from wheelbundle.format.osv import (
    RATINGS,
    Advisory,
    Severity,
    Snapshot,
    read_osv,
    require_source,
)
from wheelbundle.format.sbom import sbom, snapshot_properties
from wheelbundle.inputs.policy import JUSTIFICATIONS, Ignored
from wheelbundle.review.verify import verify_bundle

#: Which of a vulnerability's ids a reader looks up first: the CVE, then GitHub's, then PyPA's.
_ID_ORDER = ("CVE-", "GHSA-", "PYSEC-")


@dataclass(frozen=True)
class Finding:
    """One vulnerability of one package of one bundle, as every advisory about it says."""

    archive: Path
    name: str
    version: str
    wheels: tuple[str, ...]
    """The bundle's wheels of that version: one per target when they differ."""
    advisories: tuple[Advisory, ...]
    """The advisories joined, GitHub's before PyPA's (as ``_joined`` orders them)."""

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id and alias, the CVE first."""
        names = {n for a in self.advisories for n in (a.id, *a.aliases)}
        return tuple(sorted(names, key=_id_rank))

    @property
    def id(self) -> str:
        return self.ids[0]

    @property
    def severity(self) -> Severity:
        return max(a.severity for a in self.advisories)

    @property
    def fixed(self) -> str | None:
        """The lowest version above the one installed that every advisory joined calls fixed
        (the 3.2 branch's fix for 3.2.0, not the 3.1 branch's); None when one of them names
        no fix above it."""
        try:
            installed = Version(self.version)
        except InvalidVersion:
            return None
        each = [_lowest_fix_above(installed, a) for a in self.advisories]
        if any(fix is None for fix in each):
            return None
        return str(max(fix for fix in each if fix is not None))

    @property
    def summary(self) -> str:
        """GitHub's one-line summary where there is one (PYSEC records have paragraphs)."""
        return next((a.summary for a in self.advisories if a.summary), "")

    def ignored_by(self, ignore: Iterable[Ignored], today: datetime.date) -> Ignored | None:
        """The policy's unexpired ``ignore`` entry that covers every advisory joined here (each
        names its id among its own ids or aliases): an entry for one vulnerability never lets
        another through that a chain of aliases joined to it."""
        current = [i for i in ignore if i.expires >= today]
        covering = []
        for advisory in self.advisories:
            names = {advisory.id.casefold(), *(a.casefold() for a in advisory.aliases)}
            entry = next((i for i in current if i.id.casefold() in names), None)
            if entry is None:
                return None
            covering.append(entry)
        return covering[0] if covering else None


@dataclass(frozen=True)
class Audit:
    """The findings of some bundles, and the copy of the database they rest on."""

    findings: tuple[Finding, ...]
    snapshot: Snapshot
    manifests: Mapping[Path, Manifest]
    """Each bundle audited, by its archive: read once, for whatever the caller does next."""

    def counts(self) -> dict[str, int]:
        """Findings by rating, most severe first; ratings with none left out."""
        counted = Counter(f.severity.rating for f in self.findings)
        return {r: counted[r] for r in reversed(RATINGS) if counted[r]}


def audit_bundles(archives: Sequence[Path], osv: Path, max_age: int | None = None) -> Audit:
    """The findings of every bundle, by bundle, severity and package. Each bundle is verified
    first: the manifest of one changed after it was made could hide any package."""
    require_source(osv)  # before the bundles are read whole
    manifests = [(a, verify_bundle(a).manifest) for a in dict.fromkeys(archives)]
    return audit_manifests(manifests, osv, max_age)


def audit_manifests(
    manifests: Sequence[tuple[Path, Manifest]], osv: Path, max_age: int | None = None
) -> Audit:
    """The findings of bundles by their manifests (one being made has no archive yet)."""
    names = {p.name for _, m in manifests for p in m.packages}
    database = read_osv(osv, names, max_age)
    findings = [
        Finding(archive, name, version, tuple(wheels), group)
        for archive, manifest in manifests
        for (name, version), wheels in _by_version(manifest).items()
        for group in _joined(
            a for a in database.advisories if a.package == name and a.affects(version)
        )
    ]
    findings.sort(key=lambda f: (f.name, f.id))
    findings.sort(key=lambda f: f.severity, reverse=True)  # by rating, then score
    findings.sort(key=lambda f: str(f.archive))
    return Audit(tuple(findings), database.snapshot, dict(manifests))


def _by_version(manifest: Manifest) -> dict[tuple[str, str], list[str]]:
    """The bundle's wheels by package and version: a bundle for two Pythons may hold two of
    one version, which are one package to audit."""
    found: dict[tuple[str, str], list[str]] = {}
    for p in manifest.packages:
        found.setdefault((p.name, p.version), []).append(p.wheel)
    return found


def _lowest_fix_above(installed: Version, advisory: Advisory) -> Version | None:
    fixes = []
    for fix in advisory.fixed:
        try:
            if Version(fix) > installed:
                fixes.append(Version(fix))
        except InvalidVersion:
            continue
    return min(fixes, default=None)


def _joined(advisories: Iterable[Advisory]) -> list[tuple[Advisory, ...]]:
    """The advisories grouped by the ids they share, directly or through another."""
    groups: list[tuple[set[str], list[Advisory]]] = []
    for advisory in advisories:
        names = {advisory.id, *advisory.aliases}
        touching = [g for g in groups if g[0] & names]
        merged: tuple[set[str], list[Advisory]] = (names, [advisory])
        for group in touching:
            groups.remove(group)
            merged[0].update(group[0])
            merged[1].extend(group[1])
        groups.append(merged)
    return [tuple(sorted(g[1], key=lambda a: _id_rank(a.id))) for g in groups]


def _id_rank(name: str) -> tuple[int, str]:
    rank = next((i for i, p in enumerate(_ID_ORDER) if name.startswith(p)), len(_ID_ORDER))
    return rank, name


def findings_lines(audit: Audit) -> list[str]:
    """One line per finding: package, version, severity, ids, the fix, the summary (the
    advisory's own words: the caller escapes what they hold)."""
    lines = []
    for f in audit.findings:
        fixed = f"fixed in {f.fixed}" if f.fixed else "no fixed version"
        lines.append(
            f"{f.archive.name}: {f.name} {f.version}: {f.severity}: {', '.join(f.ids)}; "
            f"{fixed}: {f.summary}"
        )
    return lines


def audit_summary(audit: Audit) -> str:
    """The closing line: how many, how severe, against what."""
    if not audit.findings:
        found = "no known vulnerability"
    else:
        packages = len({(f.archive, f.name, f.version) for f in audit.findings})
        by = ", ".join(f"{n} {r}" for r, n in audit.counts().items())
        found = f"{len(audit.findings)} known vulnerabilities ({by}) in {packages} packages"
    return f"{found}; checked against {audit.snapshot.describe()}"


def audit_json(
    audit: Audit, ignore: Sequence[Ignored] = (), today: datetime.date | None = None
) -> str:
    """The audit for scripts (docs/schemas/audit.schema.json)."""
    today = today or datetime.date.today()
    return json.dumps(
        {
            "snapshot": audit.snapshot.as_json(),
            "counts": audit.counts(),
            "findings": [_finding_json(f, f.ignored_by(ignore, today)) for f in audit.findings],
        },
        indent=2,
    )


def _finding_json(f: Finding, ignored: Ignored | None) -> dict[str, Any]:
    return {
        "archive": str(f.archive),
        "package": f.name,
        "version": f.version,
        "wheels": list(f.wheels),
        "id": f.id,
        "ids": list(f.ids),
        "severity": _severity_json(f.severity),
        "fixed": f.fixed,
        "summary": f.summary,
        "ignored": None if ignored is None else {
            "reason": ignored.reason, "expires": ignored.expires.isoformat()
        },
    }  # fmt: skip


def _severity_json(severity: Severity) -> dict[str, Any]:
    return {"rating": severity.rating, "score": severity.score, "vector": severity.vector}


def sbom_with_vulnerabilities(
    manifest: Manifest,
    audit: Audit,
    ignore: Sequence[Ignored] = (),
    today: datetime.date | None = None,
) -> dict[str, Any]:
    """The bundle's SBOM with a CycloneDX ``vulnerabilities`` entry per vulnerability, naming
    the components (wheels) it affects; what the policy ignores carries its ``analysis``, and
    the metadata names the database snapshot."""
    today = today or datetime.date.today()
    document = sbom(manifest)
    document["metadata"]["properties"] = snapshot_properties(audit.snapshot)
    by_id: dict[str, dict[str, Any]] = {}
    for f in audit.findings:
        entry = by_id.setdefault(f.id, _vulnerability(f, f.ignored_by(ignore, today)))
        for wheel in f.wheels:
            if {"ref": wheel} not in entry["affects"]:
                entry["affects"].append({"ref": wheel})
    if by_id:
        document["vulnerabilities"] = list(by_id.values())
    return document


def _vulnerability(f: Finding, ignored: Ignored | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f.id,
        "source": {"name": "OSV", "url": f"https://osv.dev/vulnerability/{f.id}"},
        "description": f.summary,
        "affects": [],
    }
    if others := f.ids[1:]:
        entry["references"] = [
            {
                "id": other,
                "source": {"name": "OSV", "url": f"https://osv.dev/vulnerability/{other}"},
            }
            for other in others
        ]
    rating: dict[str, Any] = {"severity": f.severity.rating, "source": {"name": "OSV"}}
    if f.severity.score is not None and f.severity.vector:
        rating.update(score=f.severity.score, method=_method(f.severity.vector))
        rating["vector"] = f.severity.vector
    entry["ratings"] = [rating]
    if f.fixed:
        entry["recommendation"] = f"upgrade {f.name} to {f.fixed}"
    if ignored is not None:
        entry["analysis"] = {
            "state": "not_affected",
            **({"justification": _CYCLONEDX_JUSTIFICATION[ignored.justification]}
               if ignored.justification else {}),
            "detail": f"{ignored.reason} (accepted until {ignored.expires.isoformat()})",
        }  # fmt: skip
    return entry


#: OpenVEX's justifications (the policy's words, in their order) as CycloneDX names them.
_CYCLONEDX_JUSTIFICATION: Mapping[str, str] = dict(
    zip(
        JUSTIFICATIONS,
        ("requires_dependency", "code_not_present", "code_not_reachable",
         "requires_environment", "protected_by_mitigating_control"),
        strict=True,
    )
)  # fmt: skip


def _method(vector: str) -> str:
    """CycloneDX's name for a CVSS vector's version."""
    return {"CVSS:4.0": "CVSSv4", "CVSS:3.1": "CVSSv31", "CVSS:3.0": "CVSSv3"}.get(
        vector.split("/")[0], "other"
    )
