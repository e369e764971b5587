"""``bundle publish``: the wheels of bundles onto an index inside the gap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cli.common import (
    ConsoleReporter,
    add_verbosity,
)
from wheelbundle.index.publish import publish_bundles

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle publish``'s arguments."""
    publish = commands.add_parser(
        "publish",
        help="upload the wheels of bundles to a package index (devpi, pypiserver, Nexus…)",
        description=(
            "Verify each bundle, then upload its wheels through the upload API twine uses. "
            "Every wheel is first looked up on the index's simple pages: one the index holds "
            "with the same sha256 is skipped, one it holds with other bytes stops the run "
            "before anything is uploaded. Credentials come from the URL (user:password@) or "
            "~/.netrc ($NETRC). A delta bundle needs its base published first. "
            "Prints the index's simple URL."
        ),
    )
    publish.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    publish.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the index's upload URL (devpi: http://host/USER/INDEX/, pypiserver: http://host/)",
    )
    publish.add_argument(
        "--simple-url",
        metavar="URL",
        help="its simple index, when it is not at URL/+simple/ (devpi) or URL/simple/",
    )
    publish.add_argument(
        "--allowed-signers",
        type=Path,
        metavar="FILE",
        help="refuse a bundle not signed by a key in this OpenSSH allowed_signers file",
    )
    add_verbosity(publish)
    publish.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The index's simple URL on stdout."""
    published = publish_bundles(
        args.archives,
        args.to,
        simple_url=args.simple_url,
        allowed_signers=args.allowed_signers,
        reporter=ConsoleReporter(args.quiet),
    )
    if not args.quiet:
        print(
            f"{published.simple}: {len(published.uploaded) + len(published.present)} wheels, "
            f"{len(published.uploaded)} uploaded, {len(published.present)} already there",
            file=sys.stderr,
        )
    print(published.simple)
    return 0
