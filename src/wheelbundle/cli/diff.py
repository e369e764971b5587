"""``bundle diff``: what changed between two bundles."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    add_verbosity,
)
from wheelbundle.review.diff import diff_bundles, diff_json, diff_text

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle diff``'s arguments."""
    diff = commands.add_parser(
        "diff",
        help="compare the packages of two archives",
        description=(
            "One row per change from OLD to NEW: a package added, removed, upgraded, downgraded, "
            "rebuilt (same version, other wheel bytes) or whose license changed."
        ),
        epilog=(
            "Exit status, as diff(1): 0 no differences, 1 differences found, "
            "2 or more an error (2 usage, 3 an unreadable or invalid bundle)."
        ),
    )
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_verbosity(diff)
    diff.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 1 when something changed, as diff(1) does."""
    changes = diff_bundles(args.old, args.new)
    if args.json:
        print(diff_json(args.old, args.new, changes))
    elif changes:
        print(diff_text(changes))
    return 1 if changes else 0
