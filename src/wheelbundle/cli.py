"""The ``bundle`` command: parse arguments, call the library, print results and errors.

This is the only module that prints or decides exit codes. Every library error becomes one
``error: …`` line on stderr; progress goes to stderr too, so stdout stays for results (the last
line of ``bundle make`` is the archive's path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelbundle import __version__
from wheelbundle.bundle.audit import (
    Audit,
    audit_bundles,
    audit_json,
    audit_summary,
    findings_lines,
    sbom_with_vulnerabilities,
)
from wheelbundle.bundle.diff import diff_bundles, diff_json, diff_text
from wheelbundle.bundle.inspect import human_size, inspect_bundle, inspect_json, plan_table
from wheelbundle.bundle.policy import PolicyViolation, enforce, violations
from wheelbundle.bundle.report import gather, report_html, report_markdown
from wheelbundle.bundle.summary import bundle_summary, plan_summary
from wheelbundle.bundle.verify import verify_bundle
from wheelbundle.bundle.vex import openvex
from wheelbundle.cache import Cache, atomic_file, default_cache_dir
from wheelbundle.completion import SHELLS, completion_script, subcommands
from wheelbundle.errors import BuildFailed, BundleError, PipFailed, UsageError, what_was_done
from wheelbundle.format.layout import FORMATS, read_manifest
from wheelbundle.format.manifest import Manifest
from wheelbundle.index.publish import publish_bundles
from wheelbundle.index.static import index_bundles
from wheelbundle.inputs.config import DEFAULT as DEFAULT_CONFIG
from wheelbundle.inputs.config import INSTALLERS, BundleConfig, load_config
from wheelbundle.inputs.options import MakeOptions
from wheelbundle.inputs.policy import Ignored, load_policy
from wheelbundle.pack.make import make_bundle, plan_bundle
from wheelbundle.pack.merge import merge_bundles
from wheelbundle.progress import Bar, Silent

if TYPE_CHECKING:
    from tqdm import tqdm

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for any program whose reader went away (``| head``)."""


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
TOP_EXAMPLES = (
    ("bundle make requirements.txt", "writes dist/NAME-VERSION-TARGET.tar.gz"),
    ("bundle verify dist/myapp-1.0-cp311-none-any.tar.gz", "check it before it crosses"),
    ("bundle inspect dist/myapp-1.0-cp311-none-any.tar.gz", "what it holds"),
)


def _examples(examples: Sequence[tuple[str, str]]) -> str:
    width = max(len(command) for command, _ in examples)
    return "\n".join(f"  {command:<{width}}  # {what}" for command, what in examples)


_TOP_EPILOG = f"""examples:
{_examples(TOP_EXAMPLES)}
then on the server, with no network:
  tar xzf myapp-1.0-cp311-none-any.tar.gz && cd myapp-1.0 && ./install.sh /opt/myapp/venv

Run 'bundle COMMAND --help' for each command's options and examples;
eval "$(bundle completion bash)" completes them in bash.
exit status: 0 done, 1 failed, 2 usage error, 3 a bundle failed verification, 4 refused by
--policy, 130 interrupted, 143 terminated."""

_MAKE_EPILOG = f"""examples:
{_examples(MAKE_EXAMPLES)}

environment:
  PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_TRUSTED_HOST, PIP_CERT, PIP_PROXY,
  PIP_CONFIG_FILE and pip.conf   pip's own settings, honoured (the options above win)
  NETRC                  where index logins are read (default ~/.netrc), as pip reads them
  XDG_CACHE_HOME         the cache's parent (default ~/.cache): downloads, builds, resolutions
  SOURCE_DATE_EPOCH      the bundle's timestamp (default: the newest input's), for equal bytes
  PYENV_ROOT, UV_PYTHON_INSTALL_DIR   where Pythons to build sdists with are looked for"""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, ``timeout``, a service stopped), unwound as Ctrl-C is: every
    ``finally`` runs, so no temporary file or half-written archive stays behind."""


class ConsoleReporter:
    """Progress on stderr: tqdm bars on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()  # targets resolve side by side: one line at a time

    def stage(self, message: str) -> None:
        if not self.quiet:
            self._line(f"{message}…")

    def warn(self, message: str) -> None:
        self._line(f"warning: {message}")

    def _line(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(f"{text}\n")
            sys.stderr.flush()

    def bar(self, description: str, total: int | None, unit: str) -> Bar:
        if self.quiet or not self.tty:
            return Silent().bar(description, total, unit)
        from tqdm import tqdm  # here: importing it is a tenth of a rebuild's time

        counting = "{desc}: {n_fmt} {unit}{postfix} [{elapsed}]"  # no total, so no rate or bar
        return _TqdmBar(
            tqdm(
                total=total,
                desc=description,
                unit=unit,
                file=sys.stderr,
                leave=False,
                bar_format=counting if total is None else None,
            )
        )


class _TqdmBar:
    def __init__(self, bar: tqdm):  # type: ignore[type-arg]
        self._bar = bar

    def advance(self, amount: int) -> None:
        self._bar.update(amount)

    def note(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        self._bar.close()


class _Parser(argparse.ArgumentParser):
    """No abbreviations: uv's ``--python 3.12`` must not silently become ``--python-runtime``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bundle",
        description="Turn Python requirements into one archive that installs offline on a server.",
        epilog=_TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wheelbundle {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    make = commands.add_parser(
        "make",
        help="resolve, collect and pack requirements into one archive",
        description=(
            "Resolve REQ with pip for the target server (default: this machine), download every wheel (building sdists "
            "into wheels), check every file against the index's hash, and write one archive "
            "NAME-VERSION-TARGET.tar.gz whose install.sh installs it offline. The archive's path "
            "is the last line of stdout. pip's own configuration (pip.conf, PIP_INDEX_URL…) is honoured."
        ),
        epilog=_MAKE_EPILOG,
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
    _add_osv_max_age(make)
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
        "-j", "--jobs", type=_positive, default=8, help="parallel downloads (default: 8)"
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
    _add_verbosity(make, runs_pip=True)

    commands.add_parser(
        "probe",
        help="print a script that describes a server as JSON",
        description="Print a standard-library-only Python script; run it on a server (python3 probe.py > server.json).",
    )

    verify = commands.add_parser(
        "verify",
        help="check that an archive is intact",
        description="Exit 0 if every file matches the manifest and SHA256SUMS and every wheel its own RECORD; otherwise name the first bad file.",
    )
    verify.add_argument("archive", type=Path)
    verify.add_argument(
        "--base",
        type=Path,
        metavar="OLD",
        help="for a delta bundle: the bundle it was made against, whose wheels it takes",
    )
    verify.add_argument(
        "--allowed-signers",
        type=Path,
        metavar="FILE",
        help="also require a signature by a key in this OpenSSH allowed_signers file",
    )
    _add_verbosity(verify)

    cache = commands.add_parser(
        "cache",
        help="show or empty the download, build and resolution cache",
        description="'info' shows what the cache holds; 'clean' empties it.",
    )
    cache.add_argument("action", choices=["info", "clean"])
    cache.add_argument(
        "--cache-dir", type=Path, help="the cache (default: $XDG_CACHE_HOME/wheelbundle)"
    )

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
    _add_verbosity(index)

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
    _add_verbosity(publish)

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
    _add_verbosity(merge)

    inspect = commands.add_parser(
        "inspect",
        help="show what an archive holds",
        description="Targets, packages, versions, origins and sizes of a bundle.",
    )
    inspect.add_argument("archive", type=Path)
    inspect.add_argument("--json", action="store_true", help="print JSON for scripts")
    _add_verbosity(inspect)

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
    _add_verbosity(diff)

    audit = commands.add_parser(
        "audit",
        help="check the packages of archives against known vulnerabilities (OSV), offline",
        description=(
            "Every package of each ARCHIVE against the advisories of a copy of the OSV "
            "database: osv.dev's PyPI/all.zip as published (mirror it across the gap), or a "
            "folder of OSV JSON files. Withdrawn advisories are left out. Nothing is fetched."
        ),
        epilog=(
            "Exit status: 0 no known vulnerability, 1 findings, 2 usage (a missing or unreadable "
            "--osv), 3 an unreadable or invalid bundle, 4 the --policy refuses a bundle."
        ),
    )
    audit.add_argument("archives", nargs="+", type=Path, metavar="ARCHIVE")
    audit.add_argument(
        "--osv",
        type=Path,
        required=True,
        metavar="PATH",
        help="OSV zip or folder (JSON, or the PyPA's YAML); one with no PyPI advisory is refused",
    )
    _add_osv_max_age(audit)
    audit.add_argument(
        "--vex-out",
        type=Path,
        metavar="FILE",
        help="write every finding as an OpenVEX statement to FILE: the policy's ignore entries "
        "as not_affected (with their reason and expiry), the rest as affected (with the fix)",
    )
    audit.add_argument(
        "--sbom-out",
        type=Path,
        metavar="FILE",
        help="write the (first) bundle's SBOM with a CycloneDX 'vulnerabilities' list to FILE",
    )
    audit.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="a site's policy: each violation is named and the exit status is 4",
    )
    audit.add_argument("--json", action="store_true", help="print JSON for scripts")
    _add_verbosity(audit)

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
    _add_osv_max_age(report)
    report.add_argument("--policy", type=Path, metavar="FILE", help="a site's policy (YAML)")
    report.add_argument("--allowed-signers", type=Path, metavar="FILE", help="check the signature")
    report.add_argument("--format", choices=("html", "md"), default="html")
    _add_verbosity(report)
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a script that completes bundle's commands, options and choices: "
        'add  eval "$(bundle completion bash)"  to ~/.bashrc (zsh: to ~/.zshrc, with zsh).',
    )
    completion.add_argument("shell", choices=SHELLS)

    return parser


def _add_verbosity(sub: argparse.ArgumentParser, runs_pip: bool = False) -> None:
    group = sub.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show pip's own output"
        if runs_pip
        else "accepted as for make; this command runs no pip",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), argv)
    with _errors(verbose=getattr(args, "verbose", False)) as status, _terminate_as_interrupt():
        status.append(_run(args))
    return status[-1]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Arguments no command knows are refused with that command's usage, not the top one's."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        subcommands(parser)[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` and SIGINT raises
    KeyboardInterrupt (signals reach the main thread only, so a caller on another thread keeps
    its own handling).

    SIGINT is taken even when the parent left it ignored, as a shell does for a job started
    with ``&`` in a script: Python would then keep ignoring it, and a Ctrl-C sent to the
    process group would let a make run on and exit 0 with a bundle nobody wanted.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _run(args: argparse.Namespace) -> int:
    if args.command == "make":
        return _make(args)
    if args.command == "completion":
        sys.stdout.write(completion_script(build_parser(), args.shell))
        return 0
    if args.command == "probe":
        sys.stdout.write((resources.files("wheelbundle") / "payload" / "probe.py").read_text())
        return 0
    if args.command == "verify":
        verified = verify_bundle(args.archive, args.allowed_signers, args.base)
        manifest = verified.manifest
        if not args.quiet:
            print(
                f"{args.archive}: OK, {len(manifest.packages)} wheels for {', '.join(t.name for t in manifest.targets)}"
                + _signature_note(verified.signed, verified.signer)
                + _base_note(manifest, args.base)
            )
        return 0
    if args.command == "cache":
        store = Cache(args.cache_dir or default_cache_dir())
        if args.action == "clean":
            store.clean()
            print(f"emptied {store.root}")
            return 0
        print(store.root)
        for kind, (count, size) in store.usage().items():
            print(f"  {kind:<12} {count:>6} files  {human_size(size):>10}")
        return 0
    if args.command == "index":
        indexed = index_bundles(args.outdir, args.archives, args.allowed_signers)
        if not args.quiet:
            print(
                f"{indexed.simple}: {indexed.projects} projects; {indexed.added} wheels added",
                file=sys.stderr,
            )
        print(indexed.simple.resolve().as_uri() + "/")
        return 0
    if args.command == "publish":
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
    if args.command == "merge":
        archive, _ = merge_bundles(args.archives, args.outdir)
        print(archive)
        return 0
    if args.command == "inspect":
        print(inspect_json(args.archive) if args.json else inspect_bundle(args.archive))
        return 0
    if args.command == "diff":
        changes = diff_bundles(args.old, args.new)
        if args.json:
            print(diff_json(args.old, args.new, changes))
        elif changes:
            print(diff_text(changes))
        return 1 if changes else 0
    if args.command == "audit":
        return _audit(args)
    if args.command == "report":
        return _report(args)
    raise AssertionError(args.command)  # pragma: no cover


def _report(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy) if args.policy is not None else None
    audit = _audited(args, [args.archive]) if args.osv else None
    verdict = None
    if policy is not None:
        verdict = violations(
            policy,
            read_manifest(args.archive),
            audit.findings if audit else (),
            args.archive.stat().st_size,
        )
    changes = diff_bundles(args.since, args.archive) if args.since else None
    facts = gather(
        args.archive,
        audit,
        violations=verdict,
        changes=changes,
        since=read_manifest(args.since) if args.since else None,
        since_name=args.since.name if args.since else None,
        allowed_signers=args.allowed_signers,
        ignore=policy.ignore if policy else (),
    )
    text = report_html(facts) if args.format == "html" else report_markdown(facts)
    with atomic_file(args.output) as out:
        out.write(text.encode())
    print(args.output)
    return 0


def _audited(args: argparse.Namespace, archives: Sequence[Path]) -> Audit:
    if not args.osv.exists():
        raise UsageError(f"--osv {args.osv}: no such file or folder; give osv.dev's PyPI/all.zip")
    return audit_bundles(archives, args.osv, args.osv_max_age)


def _audit(args: argparse.Namespace) -> int:
    policy = load_policy(args.policy) if args.policy is not None else None
    audit = _audited(args, args.archives)
    ignore = policy.ignore if policy else ()
    if args.sbom_out is not None:  # the first bundle's SBOM, with that bundle's findings
        first = args.archives[0]
        mine = Audit(tuple(f for f in audit.findings if f.archive == first), audit.snapshot)
        document = sbom_with_vulnerabilities(read_manifest(first), mine, ignore)
        with atomic_file(args.sbom_out) as out:
            out.write((json.dumps(document, indent=2) + "\n").encode())
    if args.vex_out is not None:
        _write_vex(args.vex_out, audit, ignore)
    if args.json:
        print(audit_json(audit, ignore))
    elif audit.findings:
        print("\n".join(one_line(line) for line in findings_lines(audit)))
    if not args.quiet:
        print(audit_summary(audit), file=sys.stderr)
    if policy is not None:  # every bundle's violations, then one verdict
        archives = list(dict.fromkeys(args.archives))
        lines = [
            f"{archive.name}: {line}" if len(archives) > 1 else line
            for archive in archives
            for line in violations(
                policy,
                read_manifest(archive),
                [f for f in audit.findings if f.archive == archive],
                archive.stat().st_size,
            )
        ]
        enforce(policy, lines, ", ".join(a.name for a in archives))
    return 1 if audit.findings else 0


def _write_vex(path: Path, audit: Audit, ignore: Sequence[Ignored]) -> None:
    """OpenVEX has no document of no statements: with no finding, nothing is written."""
    if not audit.findings:
        print(
            f"--vex-out: no finding, so no VEX statement; {path} was not written", file=sys.stderr
        )
        return
    with atomic_file(path) as out:
        out.write((json.dumps(openvex(audit, ignore), indent=2) + "\n").encode())


def _make(args: argparse.Namespace) -> int:
    """The archive's path on stdout (a dry run: its table), and ``--report``'s JSON."""
    options = _make_options(args)
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


def _make_options(args: argparse.Namespace) -> MakeOptions:
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


def _base_note(manifest: Manifest, base: Path | None) -> str:
    if manifest.base is None:
        return ""
    if base is not None:
        return f"; a delta, checked with its base {manifest.base.name} {manifest.base.version}"
    return (
        f"; a delta: the {len(manifest.base.wheels)} wheels it takes from "
        f"{manifest.base.name} {manifest.base.version} were not checked (--base OLD checks them)"
    )


def _signature_note(signed: bool, signer: str | None) -> str:
    if signer:
        return f"; signed by {signer}"
    if signed:
        return "; signed (pass --allowed-signers FILE to check the signature)"
    return "; not signed"


def _add_osv_max_age(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--osv-max-age",
        type=_positive,
        metavar="DAYS",
        help="refuse an OSV copy whose newest advisory changed more than DAYS days ago",
    )


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return number


def one_line(message: str) -> str:
    """``message`` with every control character escaped: names taken from an archive or a file
    (a member called ``a\\nerror: …``) can neither break the line nor forge another."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _indent(text: str) -> str:
    return "\n".join(f"  | {line}" for line in text.splitlines())


@contextmanager
def _errors(verbose: bool) -> Iterator[list[int]]:
    """The single place an exception becomes an ``error:`` line and an exit code."""
    status: list[int] = []
    try:
        yield status
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"error: {how}; {what_was_done(exc) or 'nothing was written'}", file=sys.stderr)
        status.append(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED)
    except BrokenPipeError:  # `bundle inspect X | head -2`: the reader has what it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status.append(EXIT_BROKEN_PIPE)
    except OSError as exc:  # the machine's fault, not ours: full disk, no permission, …
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {one_line(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        status.append(EXIT_FAILURE)
    except BundleError as exc:
        for line in exc.lines if isinstance(exc, PolicyViolation) else ():
            print(f"policy: {one_line(line)}", file=sys.stderr)
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        if isinstance(exc, BuildFailed) or (isinstance(exc, PipFailed) and verbose):
            print(_indent(exc.tail), file=sys.stderr)
        status.append(exc.exit_code)
