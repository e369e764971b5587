"""``bundle audit --vex-out FILE``: what was judged of each finding, as an OpenVEX 0.2.0 document.

A policy's ``ignore`` entry (an id, why it does not apply, until when) is exactly what a VEX
statement says: ``not_affected``, with the entry's justification or its reason as the impact
statement. Every other finding is ``affected``, with the fix as the action. The next reviewer,
or a scanner that reads VEX, then sees what was judged not to apply and why, instead of the
same findings again.

The document depends only on the audit and the policy: its ``@id`` is derived from its content
and its timestamp is the snapshot's newest advisory, so the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from wheelbundle import __version__
from wheelbundle.inputs.policy import Ignored
from wheelbundle.review.audit import Audit, Finding

CONTEXT = "https://openvex.dev/ns/v0.2.0"


def openvex(
    audit: Audit, ignore: Sequence[Ignored] = (), today: datetime.date | None = None
) -> dict[str, Any]:
    """One statement per vulnerability and package version, naming the wheels it is about."""
    today = today or datetime.date.today()
    statements: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in audit.findings:
        key = (f.id, f.name, f.version)
        statement = statements.setdefault(key, _statement(f, f.ignored_by(ignore, today)))
        product = {"@id": _purl(f), "identifiers": {"purl": _purl(f)}}
        if product not in statement["products"]:
            statement["products"].append(product)
    body: dict[str, Any] = {
        "@context": CONTEXT,
        "author": "wheelbundle",
        "role": "the bundle's reviewers, through their policy",
        "timestamp": audit.snapshot.newest or "1970-01-01T00:00:00Z",
        "version": 1,
        "tooling": f"wheelbundle {__version__} (bundle audit --vex-out)",
        "statements": list(statements.values()),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"@context": CONTEXT, "@id": f"urn:wheelbundle:vex:{digest}", **body}


def _statement(f: Finding, ignored: Ignored | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "vulnerability": {"name": f.id, "description": f.summary},
        "products": [],
    }
    if aliases := list(f.ids[1:]):
        statement["vulnerability"]["aliases"] = aliases
    if ignored is None:
        statement["status"] = "affected"
        statement["action_statement"] = (
            f"upgrade {f.name} to {f.fixed}" if f.fixed else f"no fixed {f.name} is published"
        )
        return statement
    statement["status"] = "not_affected"
    note = f"{ignored.reason}; accepted until {ignored.expires.isoformat()}"
    if ignored.justification:  # OpenVEX takes one of the two, never both
        statement["justification"] = ignored.justification
        statement["status_notes"] = note
    else:
        statement["impact_statement"] = note
    return statement


def _purl(f: Finding) -> str:
    return f"pkg:pypi/{f.name}@{f.version}"
