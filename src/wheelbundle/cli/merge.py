"""``bundle merge``: one bundle for several servers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    add_verbosity,
)
from wheelbundle.pack.merge import merge_bundles

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle merge``'s arguments."""
    merge = commands.add_parser(
        "merge",
        help="combine bundles built on different machines into one multi-target bundle",
        description=(
            "Verify each bundle, check they were made from the same inputs, and write one archive "
            "holding every target; install.sh picks the one that fits the server."
        ),
    )
    merge.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    merge.add_argument(
        "-o",
        "--outdir",
        type=Path,
        default=Path("dist"),
        help="where the archive goes (default: dist/)",
    )
    add_verbosity(merge)
    merge.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The merged archive's path on stdout."""
    archive, _ = merge_bundles(args.archives, args.outdir)
    print(archive)
    return 0
