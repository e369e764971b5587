"""A bundle judged by a site's policy (``inputs.policy``): every violation, one line each."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from wheelbundle.bundle.audit import Finding
from wheelbundle.errors import BundleError
from wheelbundle.format.manifest import Manifest
from wheelbundle.inputs.policy import SEVERITIES, UNKNOWN, Policy


class PolicyViolation(BundleError):
    """The policy refuses the bundle; :attr:`lines` says what, one violation each."""

    exit_code = 4

    def __init__(self, message: str, lines: Sequence[str]):
        super().__init__(message)
        self.lines = list(lines)


def violations(
    policy: Policy,
    manifest: Manifest,
    findings: Sequence[Finding] = (),
    size: int | None = None,
    today: datetime.date | None = None,
) -> list[str]:
    """What ``policy`` refuses of the bundle ``manifest`` describes (``size`` bytes)."""
    lines = []
    for p in manifest.packages:
        license = p.license or UNKNOWN
        if not _allowed(license, policy):
            lines.append(f"{p.name} {p.version}: its license {license} is not allowed")
        if p.origin in policy.deny_origins:
            lines.append(f"{p.name} {p.version}: it is {p.origin}, which the policy denies")
    lines += _vulnerabilities(policy, findings, today or datetime.date.today())
    if policy.max_size is not None and size is not None and size > policy.max_size:
        lines.append(f"the bundle is {size} bytes, more than max_size ({policy.max_size})")
    return lines


def enforce(policy: Policy, lines: Sequence[str], what: str) -> None:
    if lines:
        raise PolicyViolation(
            f"the policy {policy.path} refuses {what}: {len(lines)} violation"
            f"{'s' if len(lines) != 1 else ''} (above)",
            lines,
        )


def _allowed(license: str, policy: Policy) -> bool:
    """Some alternative of the expression (``A OR B``) is fit: none of its ids denied, and each
    allowed when the policy lists what it allows. ``unknown`` is one more id."""
    for alternative in license.split(" OR "):
        ids = {part.strip("() ") for part in alternative.split(" AND ")}
        if ids & policy.deny_licenses:
            continue
        if policy.allow_licenses is not None and not ids <= policy.allow_licenses:
            continue
        return True
    return False


def _vulnerabilities(
    policy: Policy, findings: Sequence[Finding], today: datetime.date
) -> list[str]:
    denied = policy.deny_vulnerabilities
    if denied is None:
        return []
    ignored = {i.id for i in policy.ignore if i.expires >= today}
    lines = []
    for f in findings:
        names = {f.advisory.id, *f.advisory.aliases}
        if names & ignored or not _severe(f.advisory.severity, denied):
            continue
        lines.append(
            f"{f.name} {f.version}: {f.advisory.id} ({f.advisory.severity or 'severity unknown'}) "
            "is a known vulnerability the policy denies"
        )
    return lines


def _severe(severity: str | None, denied: str) -> bool:
    """At or above the denied severity; an advisory of unknown severity is denied (never let
    through for want of a word)."""
    if denied == "all":
        return True
    word = {"moderate": "medium"}.get((severity or "").lower(), (severity or "").lower())
    if word not in SEVERITIES:
        return True
    return SEVERITIES.index(word) >= SEVERITIES.index(denied)
