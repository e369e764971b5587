"""``bundle probe``: the script that describes a server, printed for it to run."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle probe``'s arguments."""
    probe = commands.add_parser(
        "probe",
        help="print a script that describes a server as JSON",
        description="Print a standard-library-only Python script; run it on a server (python3 probe.py > server.json).",
    )
    probe.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The probe's source on stdout."""
    sys.stdout.write((resources.files("wheelbundle") / "payload" / "probe.py").read_text())
    return 0
