"""``bundle index``: the wheels of bundles as a static package index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    add_verbosity,
)
from wheelbundle.index.static import index_bundles

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle index``'s arguments."""
    index = commands.add_parser(
        "index",
        help="serve the wheels of bundles as a static package index (PEP 503, 691, 658)",
        description=(
            "Verify each bundle, then add its wheels to OUTDIR/files and write OUTDIR/simple: "
            "pages pip reads from any static web server or as --index-url file:///…/simple, "
            "with each wheel's metadata beside it so pip resolves without downloading wheels. "
            "Run it again with later bundles to add them. Prints the index's file:// URL."
        ),
    )
    index.add_argument("outdir", type=Path, metavar="OUTDIR")
    index.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    index.add_argument(
        "--allowed-signers",
        type=Path,
        metavar="FILE",
        help="refuse a bundle not signed by a key in this OpenSSH allowed_signers file",
    )
    add_verbosity(index)
    index.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The index's URL on stdout."""
    indexed = index_bundles(args.outdir, args.archives, args.allowed_signers)
    if not args.quiet:
        print(
            f"{indexed.simple}: {indexed.projects} projects; {indexed.added} wheels added",
            file=sys.stderr,
        )
    print(indexed.simple.resolve().as_uri() + "/")
    return 0
