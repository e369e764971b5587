"""``bundle inspect``: what a bundle holds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    add_verbosity,
)
from wheelbundle.review.inspect import inspect_bundle, inspect_json

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle inspect``'s arguments."""
    inspect = commands.add_parser(
        "inspect",
        help="show what an archive holds",
        description="Targets, packages, versions, origins and sizes of a bundle.",
    )
    inspect.add_argument("archive", type=Path)
    inspect.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_verbosity(inspect)
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """A table, or the summary as JSON."""
    print(inspect_json(args.archive) if args.json else inspect_bundle(args.archive))
    return 0
