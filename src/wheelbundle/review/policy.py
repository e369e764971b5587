"""A bundle judged by a site's policy (``inputs.policy``): every violation, one line each."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from wheelbundle.errors import BundleError
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.osv import Severity
from wheelbundle.inputs.policy import SEVERITIES, UNKNOWN, Policy
from wheelbundle.review.audit import Finding


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
        if not license_allowed(license, policy):
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


def license_allowed(license: str, policy: Policy) -> bool:
    """Whether some choice among the expression's ``OR`` alternatives uses only licences the
    policy lets through (``unknown`` is one more licence)."""
    try:
        expression = canonicalize_license_expression(license)
    except InvalidLicenseExpression:  # not SPDX (an old manifest's text): judged whole
        return _term_allowed(license, None, policy)
    tokens = _TOKENS.findall(expression)
    fits, rest = _either(
        tokens, lambda licence, exception: _term_allowed(licence, exception, policy)
    )
    return fits and not rest


#: An SPDX expression's words, as packaging canonicalises it: parentheses and ids.
_TOKENS = re.compile(r"[()]|[^\s()]+")
Judge = Callable[[str, str | None], bool]


def _either(tokens: list[str], judge: Judge) -> tuple[bool, list[str]]:
    """``a OR b OR …``: fit when any alternative is. Returns what follows it."""
    fits, tokens = _both(tokens, judge)
    while tokens[:1] == ["OR"]:
        more, tokens = _both(tokens[1:], judge)
        fits = fits or more
    return fits, tokens


def _both(tokens: list[str], judge: Judge) -> tuple[bool, list[str]]:
    """``a AND b AND …``: fit when every part is."""
    fits, tokens = _term(tokens, judge)
    while tokens[:1] == ["AND"]:
        more, tokens = _term(tokens[1:], judge)
        fits = fits and more
    return fits, tokens


def _term(tokens: list[str], judge: Judge) -> tuple[bool, list[str]]:
    """``( expression )``, or a licence with its ``WITH`` exception if any."""
    if tokens[:1] == ["("]:
        fits, rest = _either(tokens[1:], judge)
        return fits, rest[1:]  # the ")" canonicalisation guarantees
    licence, rest = tokens[0], tokens[1:]
    if rest[:1] == ["WITH"]:
        return judge(licence, rest[1]), rest[2:]
    return judge(licence, None), rest


def _term_allowed(licence: str, exception: str | None, policy: Policy) -> bool:
    """A licence with its exception is judged as the policy names it, if it does (``deny:
    [GPL-2.0-only WITH Classpath-exception-2.0]``), else by the licence alone."""
    licence = licence.casefold()  # the policy's ids are kept casefolded, as SPDX compares
    named = f"{licence} with {exception.casefold()}" if exception else licence
    allowed = policy.allow_licenses
    if named in policy.deny_licenses:
        return False
    if allowed is not None and named in allowed:
        return True
    return licence not in policy.deny_licenses and (allowed is None or licence in allowed)


def _vulnerabilities(
    policy: Policy, findings: Sequence[Finding], today: datetime.date
) -> list[str]:
    denied = policy.deny_vulnerabilities
    if denied is None:
        return []
    lines = []
    for f in findings:
        if f.ignored_by(policy.ignore, today) or not _severe(f.severity, denied, policy):
            continue
        lines.append(
            f"{f.name} {f.version}: {', '.join(f.ids)} ({f.severity}) is a known vulnerability "
            "the policy denies" + (f"; fixed in {f.fixed}" if f.fixed else "; no fixed version")
        )
    return lines


def _severe(severity: Severity, denied: str, policy: Policy) -> bool:
    """At or above the denied severity; a finding no advisory rates is as the policy says
    (``unknown: deny``, the default: never let through for want of a word)."""
    if denied == "all":
        return True
    if severity.rating not in SEVERITIES:  # unknown (none: CVSS's 0.0, nothing to deny)
        return policy.deny_unknown and severity.rating == "unknown"
    return SEVERITIES.index(severity.rating) >= SEVERITIES.index(denied)
