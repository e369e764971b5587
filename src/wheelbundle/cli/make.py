"""``bundle make``: requirements, a project or a lock, into one archive (or, with --dry-run, what
would be in it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelbundle.cache import atomic_file
from wheelbundle.cli.common import (
    ConsoleReporter,
    add_option,
    add_verbosity,
    examples,
)
from wheelbundle.collect.plan import plan_summary
from wheelbundle.inputs.config import DEFAULT as DEFAULT_CONFIG
from wheelbundle.inputs.config import load_config
from wheelbundle.inputs.options import MAKE_OPTIONS, MakeOptions
from wheelbundle.pipeline import make_bundle, plan_bundle
from wheelbundle.review.inspect import plan_table
from wheelbundle.review.summary import bundle_summary

#: Each example is a command line the parser takes (tests/test_cli.py parses every one).
MAKE_EXAMPLES = (
    ("bundle make requirements.txt", "for this machine's Python and platform"),
    (
        "bundle make . --target cp312-manylinux_2_28_x86_64",
        "a project, or its lock, for another server",
    ),
    ("bundle make uv.lock --target server.json", "a lock, for a server 'bundle probe' described"),
    ("bundle make requirements.txt --dry-run", "what would be bundled; nothing is written"),
    ("bundle make requirements.txt -q --report out.json", "the archive, and its summary as JSON"),
)

if TYPE_CHECKING:
    from wheelbundle.cli.common import Commands
MAKE_EPILOG = f"""examples:
{examples(MAKE_EXAMPLES)}

environment:
  PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_TRUSTED_HOST, PIP_CERT,
  PIP_CLIENT_CERT, PIP_PROXY, PIP_CONFIG_FILE and pip.conf
                         pip's own settings, honoured (the options above win)
  NETRC                  where index logins are read (default ~/.netrc), as pip reads them
  XDG_CACHE_HOME         the cache's parent (default ~/.cache): downloads, builds, resolutions
  SOURCE_DATE_EPOCH      the bundle's timestamp (default: the newest input's), for equal bytes
  PYENV_ROOT, UV_PYTHON_INSTALL_DIR   where Pythons to build sdists with are looked for"""


def add(commands: Commands, top: argparse.ArgumentParser) -> None:
    """``bundle make``'s arguments."""
    make = commands.add_parser(
        "make",
        help="resolve, collect and pack requirements into one archive",
        description=(
            "Resolve REQ with pip for the target server (default: this machine), download every wheel (building sdists "
            "into wheels), check every file against the index's hash, and write one archive "
            "NAME-VERSION-TARGET.tar.gz whose install.sh installs it offline. The archive's path "
            "is the last line of stdout. pip's own configuration (pip.conf, PIP_INDEX_URL…) is honoured."
        ),
        epilog=MAKE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read options from this bundle.yaml (default: ./bundle.yaml when no REQ is given); "
        "command-line options override it",
    )
    for option in MAKE_OPTIONS:
        add_option(make, option)
    make.add_argument(
        "--dry-run",
        action="store_true",
        help="resolve, then print what would be bundled for each target (name, version, "
        "origin, file, size) and stop: nothing is built or written",
    )
    make.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="also write what was bundled (with --dry-run: what would be) as JSON to FILE, "
        "or to stdout with '-'; the schema is bundle inspect --json's (docs/reference.md)",
    )
    add_verbosity(make, runs_pip=True)
    make.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The archive's path on stdout (a dry run: its table), and ``--report``'s JSON."""
    options = make_options(args)
    reporter = ConsoleReporter(args.quiet)
    to_stdout = args.report == Path("-")
    if args.dry_run:
        planned = plan_bundle(options, reporter)
        summary = plan_summary(planned.name, planned.version, planned.targets, planned.inputs)
        if not to_stdout:
            print(plan_table(summary))
        if not args.quiet:
            print("nothing was written (--dry-run)", file=sys.stderr)
    else:
        result = make_bundle(options, reporter)
        summary = bundle_summary(result.manifest, result.archive)
        if not to_stdout:
            print(result.archive)
    if to_stdout:
        print(json.dumps(summary, indent=2))
    elif args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(args.report) as out:
            out.write(json.dumps(summary, indent=2).encode() + b"\n")
    return 0


def make_options(args: argparse.Namespace) -> MakeOptions:
    """The command line over ``bundle.yaml`` (read when asked, or when no REQ is given), option
    by option as the table declares them; what neither gives is MakeOptions' default."""
    config = None
    if args.config is not None or not args.inputs:
        config = load_config(args.config or DEFAULT_CONFIG)
    given: dict[str, Any] = {"verbose": args.verbose}
    for option in MAKE_OPTIONS:
        value = getattr(args, option.field)
        if isinstance(value, list):
            value = tuple(value)
        if not value and value is not False and config is not None and option.key is not None:
            value = getattr(config, option.key)
        if value is not None and value != ():
            given[option.field] = value
    given.setdefault("inputs", ())
    return MakeOptions(**given)
