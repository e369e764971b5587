"""``--policy FILE``: what a site allows across its gap, as YAML a reviewer can read.

    licenses:
      deny: [AGPL-3.0-only, AGPL-3.0-or-later, unknown]   # or allow: [MIT, BSD-3-Clause, ...]
    vulnerabilities:
      deny: high              # all, or at or above a severity: critical, high, medium, low
      unknown: deny           # a finding no advisory rates: deny (the default) or allow
      ignore:                 # each one a VEX statement (bundle audit --vex-out)
        - {id: GHSA-9wx4-h78v-vm56, reason: "no Session reuse here", expires: 2027-06-30,
           justification: vulnerable_code_not_in_execute_path}   # optional, OpenVEX's words
    origins:
      deny: [built-from-vcs]  # built-from-sdist, built-from-vcs, local
    max_size: 500 MB

Read and checked whole before anything is resolved: a mistake is one error naming its line.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from wheelbundle.errors import UsageError
from wheelbundle.format.manifest import ORIGINS
from wheelbundle.format.osv import RATINGS, rating_of

SEVERITIES = RATINGS[RATINGS.index("low") :]
"""The ratings a policy may deny from, least severe first; ``moderate`` (GitHub's word) is
``medium``."""
JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
"""Why a vulnerability does not apply, in OpenVEX's words (an ``ignore`` entry may give one)."""
UNKNOWN = "unknown"
"""The license of a package whose metadata says none."""


@dataclass(frozen=True)
class Ignored:
    """An advisory the site accepts for now, and why; past ``expires`` it counts again."""

    id: str
    reason: str
    expires: datetime.date
    justification: str | None = None
    """One of :data:`JUSTIFICATIONS`, or None: then the reason alone says why."""


@dataclass(frozen=True)
class Policy:
    path: Path
    deny_licenses: frozenset[str] = frozenset()
    allow_licenses: frozenset[str] | None = None
    deny_vulnerabilities: str | None = None
    """``all``, or the least severity denied."""
    deny_unknown: bool = True
    """A finding whose advisories give no severity: denied unless ``unknown: allow``."""
    ignore: tuple[Ignored, ...] = ()
    deny_origins: frozenset[str] = frozenset()
    max_size: int | None = None


def load_policy(path: Path) -> Policy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"--policy {path}: no such file") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--policy {path}: cannot read it as YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(
            f"--policy {path}: expected keys licenses, vulnerabilities, origins, max_size"
        )
    unknown = set(data) - {"licenses", "vulnerabilities", "origins", "max_size"}
    if unknown:
        raise UsageError(f"--policy {path}: unknown key {sorted(unknown)[0]!r}")
    licenses = _table(path, data, "licenses", {"deny", "allow"})
    vulns = _table(path, data, "vulnerabilities", {"deny", "unknown", "ignore"})
    origins = _table(path, data, "origins", {"deny"})
    return Policy(
        path=path,
        deny_licenses=frozenset(_licenses(path, licenses.get("deny", []))),
        allow_licenses=frozenset(_licenses(path, licenses["allow"]))
        if "allow" in licenses
        else None,
        deny_vulnerabilities=_severity(path, vulns.get("deny")),
        deny_unknown=_unknown(path, vulns),
        ignore=tuple(
            _ignored(path, entry) for entry in _list(path, "ignore", vulns.get("ignore", []))
        ),
        deny_origins=frozenset(_origins(path, origins.get("deny", []))),
        max_size=_size(path, data.get("max_size")),
    )


def _table(path: Path, data: Mapping[str, Any], key: str, keys: set[str]) -> Mapping[str, Any]:
    table = data.get(key) or {}
    if not isinstance(table, dict) or set(table) - keys:
        raise UsageError(f"--policy {path}: {key}: expected a mapping of {', '.join(sorted(keys))}")
    return table


def _list(path: Path, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UsageError(f"--policy {path}: {key}: expected a list")
    return value


def _licenses(path: Path, value: Any) -> list[str]:
    """Licence ids (or one with its exception, ``GPL-2.0-only WITH Classpath-exception-2.0``),
    compared without regard to case, as SPDX compares them."""
    found = []
    for item in _list(path, "licenses", value):
        if str(item).lower() == UNKNOWN:
            found.append(UNKNOWN)
            continue
        try:
            canonical = canonicalize_license_expression(str(item))
        except InvalidLicenseExpression as exc:
            raise UsageError(
                f"--policy {path}: licenses: {item!r} is not an SPDX id ({exc})"
            ) from exc
        if any(word in canonical for word in (" AND ", " OR ", "(")):
            raise UsageError(
                f"--policy {path}: licenses: {item!r} is an expression; list each licence on "
                "its own (an expression passes when its licences do)"
            )
        found.append(canonical.casefold())
    return found


def _severity(path: Path, value: Any) -> str | None:
    if value is None:
        return None
    word = "all" if str(value).lower() == "all" else rating_of(str(value))
    if word != "all" and word not in SEVERITIES:
        raise UsageError(
            f"--policy {path}: vulnerabilities: deny must be all or one of {', '.join(SEVERITIES)}, "
            f"not {value!r}"
        )
    return word


def _unknown(path: Path, vulns: Mapping[str, Any]) -> bool:
    value = vulns.get("unknown", "deny")
    if "unknown" in vulns and "deny" not in vulns:
        raise UsageError(
            f"--policy {path}: vulnerabilities: unknown says what deny does with a finding no "
            "advisory rates; give deny too (all, or a severity)"
        )
    if str(value).lower() not in ("deny", "allow"):
        raise UsageError(
            f"--policy {path}: vulnerabilities: unknown must be deny or allow, not {value!r}"
        )
    return str(value).lower() == "deny"


def _ignored(path: Path, entry: Any) -> Ignored:
    if not isinstance(entry, dict) or not {"id", "reason", "expires"} <= set(entry):
        raise UsageError(
            f"--policy {path}: vulnerabilities: each ignore entry needs id, reason and expires "
            f"(got {entry!r})"
        )
    if extra := set(entry) - {"id", "reason", "expires", "justification"}:
        raise UsageError(
            f"--policy {path}: ignore {entry['id']}: unknown key {sorted(extra)[0]!r} (an entry "
            "has id, reason, expires and, if you like, justification)"
        )
    if not str(entry["reason"]).strip():
        raise UsageError(
            f"--policy {path}: ignore {entry['id']}: give the reason it does not apply; the "
            "next reviewer reads it"
        )
    justification = entry.get("justification")
    if justification is not None and justification not in JUSTIFICATIONS:
        raise UsageError(
            f"--policy {path}: ignore {entry['id']}: justification {justification!r} is none of "
            f"{', '.join(JUSTIFICATIONS)}"
        )
    expires = entry["expires"]
    if isinstance(expires, datetime.datetime):  # 2027-06-30T00:00:00Z, read by YAML as a time
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        try:
            expires = datetime.date.fromisoformat(str(expires))
        except ValueError as exc:
            raise UsageError(
                f"--policy {path}: ignore {entry['id']}: expires {expires!r} is no date"
            ) from exc
    return Ignored(str(entry["id"]), str(entry["reason"]), expires, justification)


def _origins(path: Path, value: Any) -> list[str]:
    items = [str(v) for v in _list(path, "origins", value)]
    for item in items:
        if item not in ORIGINS:
            raise UsageError(f"--policy {path}: origins: {item!r} is none of {', '.join(ORIGINS)}")
    return items


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}


def _size(path: Path, value: Any) -> int | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m[2].lower() not in _UNITS:
        raise UsageError(
            f"--policy {path}: max_size {value!r}: give bytes, or a size such as 500 MB"
        )
    return int(float(m[1]) * _UNITS[m[2].lower()])
