"""``bundle report``: the page a review board signs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cache import atomic_file
from wheelbundle.cli.common import (
    add_osv_max_age,
    add_verbosity,
)
from wheelbundle.format.layout import read_manifest
from wheelbundle.format.osv import require_source
from wheelbundle.inputs.policy import load_policy
from wheelbundle.review.audit import audit_manifests
from wheelbundle.review.diff import diff_bundles
from wheelbundle.review.policy import violations
from wheelbundle.review.report import gather, report_html, report_markdown
from wheelbundle.review.verify import verify_bundle

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle report``'s arguments."""
    report = commands.add_parser(
        "report",
        help="one page for the review board: identity, packages, licences, vulnerabilities, changes",
        description=(
            "A self-contained HTML file (no network, no scripts; prints on A4), or Markdown for a "
            "ticket: the bundle's identity (archive and SHA256SUMS sha256, signature), every "
            "package with version, origin, licence, size, source and sha256, licence totals, a "
            "size chart and the dependency tree; with --osv the known vulnerabilities, with "
            "--policy its verdict, with --since what changed. The bundle is verified first."
        ),
    )
    report.add_argument("archive", type=Path, metavar="ARCHIVE")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    report.add_argument("--since", type=Path, metavar="OLD", help="the release before this one")
    report.add_argument("--osv", type=Path, metavar="PATH", help="a copy of the OSV database")
    add_osv_max_age(report)
    report.add_argument("--policy", type=Path, metavar="FILE", help="a site's policy (YAML)")
    report.add_argument("--allowed-signers", type=Path, metavar="FILE", help="check the signature")
    report.add_argument("--format", choices=("html", "md"), default="html")
    add_verbosity(report)
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy) if args.policy is not None else None
    if args.osv is not None:
        require_source(args.osv)  # before the bundle is read whole
    verified = verify_bundle(args.archive, args.allowed_signers)
    manifest = verified.manifest
    audit = (
        audit_manifests([(args.archive, manifest)], args.osv, args.osv_max_age)
        if args.osv
        else None
    )
    verdict = None
    if policy is not None:
        verdict = violations(
            policy,
            manifest,
            audit.findings if audit else (),
            args.archive.stat().st_size,
        )
    changes = diff_bundles(args.since, args.archive) if args.since else None
    facts = gather(
        args.archive,
        verified,
        audit,
        violations=verdict,
        changes=changes,
        since=read_manifest(args.since) if args.since else None,
        since_name=args.since.name if args.since else None,
        ignore=policy.ignore if policy else (),
    )
    text = report_html(facts) if args.format == "html" else report_markdown(facts)
    with atomic_file(args.output) as out:
        out.write(text.encode())
    print(args.output)
    return 0
