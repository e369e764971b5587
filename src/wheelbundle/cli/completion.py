"""``bundle completion bash|zsh``: a completion script made from the parser itself."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from wheelbundle.completion import SHELLS, completion_script

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle completion``'s arguments."""
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a script that completes bundle's commands, options and choices: "
        'add  eval "$(bundle completion bash)"  to ~/.bashrc (zsh: to ~/.zshrc, with zsh).',
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(run=run, top=top)


def run(args: argparse.Namespace) -> int:
    """The script on stdout."""
    sys.stdout.write(completion_script(args.top, args.shell))
    return 0
