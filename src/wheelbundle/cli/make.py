"""``bundle make``: requirements, a project or a lock, into one archive (or, with --dry-run, what
would be in it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from wheelbundle.cache import atomic_file
from wheelbundle.cli.common import (
    ConsoleReporter,
    add_osv_max_age,
    add_verbosity,
    examples,
    positive,
)
from wheelbundle.collect.plan import plan_summary
from wheelbundle.format.layout import FORMATS
from wheelbundle.inputs.config import DEFAULT as DEFAULT_CONFIG
from wheelbundle.inputs.config import INSTALLERS, BundleConfig, load_config
from wheelbundle.inputs.options import MakeOptions
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
        "inputs",
        nargs="*",
        metavar="REQ",
        help="a requirements file, a pyproject.toml, a project folder, or a lock "
        "(pylock.toml, uv.lock, poetry.lock, pdm.lock, Pipfile.lock); a project folder with a "
        "lock beside it is bundled from that lock (default: the inputs of ./bundle.yaml)",
    )
    make.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME",
        help="add a project's optional dependencies [project.optional-dependencies] "
        "(or a lock's extra); repeatable",
    )
    make.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="add a PEP 735 dependency group from the project's pyproject.toml "
        "(or a lock's group: Poetry's and PDM's groups, a Pipfile.lock's dev or other "
        "category); repeatable",
    )
    make.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read options from this bundle.yaml (default: ./bundle.yaml when no REQ is given); "
        "command-line options override it",
    )
    make.add_argument(
        "-o",
        "--outdir",
        type=Path,
        help="where the archive goes (default: dist/)",
    )
    make.add_argument(
        "--name", help="bundle name (default: the project's name, else the input's folder name)"
    )
    make.add_argument(
        "--version", help="bundle version (default: the project's version, else the inputs' date)"
    )
    make.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TARGET",
        help="the server to bundle for (repeatable): a shorthand like cp312-manylinux_2_28_aarch64, "
        "cp312-musllinux_1_2_x86_64, cp313-macosx_11_0_arm64, cp311-win_amd64, or a JSON file "
        "written by the 'bundle probe' script on the server (default: this machine)",
    )
    make.add_argument("--index-url", help="base URL of the package index (like pip's)")
    make.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        help="another index to look in (repeatable)",
    )
    make.add_argument(
        "--find-links",
        action="append",
        default=[],
        help="a folder or page of distributions (repeatable)",
    )
    make.add_argument(
        "--trusted-host",
        action="append",
        default=[],
        help="a host to trust without valid HTTPS (repeatable)",
    )
    make.add_argument(
        "--cache-dir",
        type=Path,
        help="where downloads and builds are kept (default: $XDG_CACHE_HOME/wheelbundle)",
    )
    make.add_argument("--no-cache", action="store_true", help="use a throw-away cache for this run")
    make.add_argument(
        "--refresh",
        action="store_true",
        help="resolve anew even if the same inputs were resolved in the last 24 hours",
    )
    make.add_argument(
        "--build-python",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a Python to build sdists with for targets of its version (CPython 3.9 for a "
        "cp39 server); else one is looked for on PATH, in pyenv and in uv's Pythons; repeatable",
    )
    make.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="a site's policy (YAML: licenses, vulnerabilities, origins, max_size); a bundle "
        "it refuses is not written, and each violation is named (exit 4)",
    )
    make.add_argument(
        "--osv",
        type=Path,
        metavar="PATH",
        help="a copy of the OSV database (osv.dev's PyPI/all.zip, or a folder of OSV JSON or "
        "YAML), for --policy's vulnerability rules; one holding no PyPI advisory is refused",
    )
    add_osv_max_age(make)
    make.add_argument(
        "--resolve",
        action="store_true",
        help="resolve a project folder with pip even when a lock lies beside it",
    )
    make.add_argument(
        "--format",
        choices=list(FORMATS),
        help="archive format (default: tar.gz, the one every server unpacks with tar and gzip)",
    )
    make.add_argument(
        "-j", "--jobs", type=positive, default=8, help="parallel downloads (default: 8)"
    )
    make.add_argument(
        "--installer",
        choices=list(INSTALLERS),
        help="what install.sh installs with (default: pip); uv: the bundle also carries the "
        "target's uv wheel and falls back to pip where uv cannot run",
    )
    make.add_argument(
        "--sign",
        type=Path,
        metavar="KEY",
        help="sign SHA256SUMS with this OpenSSH key (ssh-keygen -Y sign); stored as SHA256SUMS.sig",
    )
    make.add_argument(
        "--since",
        type=Path,
        metavar="OLD",
        help="make a delta bundle: leave out every wheel the bundle OLD (a .tar.gz) already "
        "carries; install.sh --base OLD takes them from it",
    )
    make.add_argument(
        "--python-runtime",
        metavar="FILE|URL",
        help="carry this python-build-standalone install_only archive (or its URL, checked "
        "against URL#sha256=… or the URL.sha256 beside it): install.sh builds the venv from it, "
        "so the server needs no Python. The target (Python, platform, glibc) is read from it",
    )
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
    """The command line over ``bundle.yaml`` (read when asked, or when no REQ is given)."""
    config = None
    if args.config is not None or not args.inputs:
        config = load_config(args.config or DEFAULT_CONFIG)
    conf = config or BundleConfig(path=DEFAULT_CONFIG)
    return MakeOptions(
        inputs=tuple(args.inputs) or conf.inputs,
        outdir=args.outdir or conf.output or Path("dist"),
        name=args.name or conf.name,
        version=args.version or conf.version,
        index_url=args.index_url or conf.index_url,
        extra_index_urls=tuple(args.extra_index_url) or conf.extra_index_urls,
        find_links=tuple(args.find_links) or conf.find_links,
        trusted_hosts=tuple(args.trusted_host) or conf.trusted_hosts,
        extras=tuple(args.extra) or conf.extras,
        groups=tuple(args.group) or conf.groups,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        refresh=args.refresh,
        resolve=args.resolve,
        build_pythons=tuple(args.build_python) or conf.build_pythons,
        policy=args.policy,
        osv=args.osv,
        osv_max_age=args.osv_max_age,
        jobs=args.jobs,
        verbose=args.verbose,
        targets=tuple(args.target) or conf.targets,
        sign_key=args.sign or conf.sign_key,
        since=args.since,
        python_runtime=args.python_runtime,
        installer=args.installer or conf.installer or "pip",
        archive_format=args.format or conf.format or FORMATS[0],
    )
