"""``bundle audit``: known vulnerabilities of bundles, from a copy of the OSV database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cache import atomic_file
from wheelbundle.cli.common import (
    add_osv_max_age,
    add_verbosity,
    one_line,
)
from wheelbundle.inputs.policy import Ignored, load_policy
from wheelbundle.review.audit import (
    Audit,
    audit_bundles,
    audit_json,
    audit_summary,
    findings_lines,
    sbom_with_vulnerabilities,
)
from wheelbundle.review.policy import enforce, violations
from wheelbundle.review.vex import openvex

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle audit``'s arguments."""
    audit = commands.add_parser(
        "audit",
        help="check the packages of archives against known vulnerabilities (OSV), offline",
        description=(
            "Every package of each ARCHIVE against the advisories of a copy of the OSV "
            "database: osv.dev's PyPI/all.zip as published (mirror it across the gap), or a "
            "folder of OSV JSON files. Withdrawn advisories are left out. Nothing is fetched."
        ),
        epilog=(
            "Exit status: 0 no known vulnerability, 1 findings, 2 usage (a missing or unreadable "
            "--osv), 3 an unreadable or invalid bundle, 4 the --policy refuses a bundle."
        ),
    )
    audit.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    audit.add_argument(
        "--osv",
        type=Path,
        required=True,
        metavar="PATH",
        help="OSV zip or folder (JSON, or the PyPA's YAML); one with no PyPI advisory is refused",
    )
    add_osv_max_age(audit)
    audit.add_argument(
        "--vex-out",
        type=Path,
        metavar="FILE",
        help="write every finding as an OpenVEX statement to FILE: the policy's ignore entries "
        "as not_affected (with their reason and expiry), the rest as affected (with the fix)",
    )
    audit.add_argument(
        "--sbom-out",
        type=Path,
        metavar="FILE",
        help="write the (first) bundle's SBOM with a CycloneDX 'vulnerabilities' list to FILE",
    )
    audit.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="a site's policy: each violation is named and the exit status is 4",
    )
    audit.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_verbosity(audit)
    audit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy) if args.policy is not None else None
    audit = audit_bundles(args.archives, args.osv, args.osv_max_age)
    ignore = policy.ignore if policy else ()
    if args.sbom_out is not None:  # the first bundle's SBOM, with that bundle's findings
        first = args.archives[0]
        manifest = audit.manifests[first]
        mine = replace(audit, findings=tuple(f for f in audit.findings if f.archive == first))
        document = sbom_with_vulnerabilities(manifest, mine, ignore)
        with atomic_file(args.sbom_out) as out:
            out.write((json.dumps(document, indent=2) + "\n").encode())
    if args.vex_out is not None:
        write_vex(args.vex_out, audit, ignore)
    if args.json:
        print(audit_json(audit, ignore))
    elif audit.findings:
        print("\n".join(one_line(line) for line in findings_lines(audit)))
    if not args.quiet:
        print(audit_summary(audit), file=sys.stderr)
    if policy is not None:  # every bundle's violations, then one verdict
        archives = list(audit.manifests)
        lines = [
            f"{archive.name}: {line}" if len(archives) > 1 else line
            for archive, manifest in audit.manifests.items()
            for line in violations(
                policy,
                manifest,
                [f for f in audit.findings if f.archive == archive],
                archive.stat().st_size,
            )
        ]
        enforce(policy, lines, ", ".join(a.name for a in archives))
    return 1 if audit.findings else 0


def write_vex(path: Path, audit: Audit, ignore: Sequence[Ignored]) -> None:
    """OpenVEX has no document of no statements: with no finding, nothing is written."""
    if not audit.findings:
        print(
            f"--vex-out: no finding, so no VEX statement; {path} was not written", file=sys.stderr
        )
        return
    with atomic_file(path) as out:
        out.write((json.dumps(openvex(audit, ignore), indent=2) + "\n").encode())
