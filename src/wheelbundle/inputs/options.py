"""What ``bundle make`` was asked for, as one frozen value the CLI builds; each stage is handed
only its own part of it (``PipSettings`` for resolving and collecting, the name and version for
describing), so that its signature says what it depends on.

Each option is declared once more, in :data:`MAKE_OPTIONS`: its flags, its help, its kind and its
``bundle.yaml`` key. The parser's arguments, the file's keys and their checks, and the merge of
the two are made from that table (``cli/make.py``, ``inputs/config.py``); a test holds the table
to these fields, so an option added here and not there (or there and not here) fails at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wheelbundle.format.layout import FORMATS
from wheelbundle.pip.settings import PipSettings

INSTALLERS = ("pip", "uv")
"""What install.sh may install with (``--installer``)."""


@dataclass(frozen=True)
class MakeOptions:
    """Everything ``bundle make`` was asked for."""

    inputs: tuple[str, ...]
    outdir: Path = Path("dist")
    name: str | None = None
    version: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cache_dir: Path | None = None
    use_cache: bool = True
    jobs: int = 8
    verbose: bool = False
    targets: tuple[str, ...] = ()
    """``--target`` values; none means this machine."""
    refresh: bool = False
    """Resolve anew even when a stored resolution of the same inputs is fresh."""
    sign_key: Path | None = None
    """An OpenSSH private key (or the public half of one in ssh-agent) to sign SHA256SUMS with."""
    since: Path | None = None
    """``--since OLD``: a delta bundle, without the wheels the bundle OLD carries."""
    python_runtime: str | None = None
    """``--python-runtime FILE|URL``: a python-build-standalone archive the bundle carries; the
    target is read from it."""
    extras: tuple[str, ...] = ()
    """``--extra``: optional dependencies of the project inputs (or of a lock)."""
    groups: tuple[str, ...] = ()
    """``--group``: PEP 735 dependency groups of the project inputs (or of a lock)."""
    resolve: bool = False
    """``--resolve``: a project folder is resolved by pip even with a lock beside it."""
    build_pythons: tuple[Path, ...] = ()
    """``--build-python``: Pythons to build sdists with for targets of their version."""
    policy: Path | None = None
    """``--policy FILE``: what the site allows; a bundle it refuses is never written."""
    osv: Path | None = None
    """``--osv PATH``: a copy of the OSV database, for the policy's vulnerability rules."""
    osv_max_age: int | None = None
    """``--osv-max-age DAYS``: a copy whose newest advisory is older is refused."""
    installer: str = "pip"
    """``uv``: the bundle also carries each target's uv wheel, and install.sh installs with it."""
    archive_format: str = "tar.gz"
    """``--format``: the archive's format, and its name's suffix (one of ``layout.FORMATS``)."""

    @property
    def pip(self) -> PipSettings:
        """The part of the options the resolve and collect stages read."""
        return PipSettings(
            index_url=self.index_url,
            extra_index_urls=self.extra_index_urls,
            find_links=self.find_links,
            trusted_hosts=self.trusted_hosts,
            jobs=self.jobs,
            verbose=self.verbose,
            refresh=self.refresh,
            installer=self.installer,
            build_pythons=self.build_pythons,
        )


Kind = Literal[
    "text", "choice", "path", "count", "flag", "no-flag", "texts", "inputs", "targets", "links",
    "pythons",
]  # fmt: skip
"""How an option is given and read: one value (``text``, one of ``choice``, a ``path``, a
``count``), a switch (``flag``; ``no-flag`` turns a default on off), or a repeatable value whose
paths in ``bundle.yaml`` are read from the file's folder (``inputs``, the ``.json`` ``targets``,
``links`` that are no URL, ``pythons`` given as a path); ``texts`` are taken as written."""


@dataclass(frozen=True)
class Option:
    """One ``bundle make`` option: what the command line and ``bundle.yaml`` call it."""

    field: str
    """Its :class:`MakeOptions` field, and the parser's name for it."""
    flags: tuple[str, ...]
    """``-o``, ``--outdir``; none for the positional REQ."""
    kind: Kind
    help: str
    key: str | None = None
    """Its ``bundle.yaml`` key; None: the command line's alone."""
    metavar: str | None = None
    choices: tuple[str, ...] = ()


#: Every option of ``bundle make`` that becomes a :class:`MakeOptions` field, in ``--help``'s
#: order; ``-q``/``-v`` are every command's, and ``--config``, ``--dry-run`` and ``--report``
#: are the command's own, not the bundle's.
MAKE_OPTIONS = (
    Option("inputs", (), "inputs", "a requirements file, a pyproject.toml, a project folder, or "
           "a lock (pylock.toml, uv.lock, poetry.lock, pdm.lock, Pipfile.lock); a project folder "
           "with a lock beside it is bundled from that lock (default: the inputs of ./bundle.yaml)",
           key="inputs", metavar="REQ"),
    Option("extras", ("--extra",), "texts", "add a project's optional dependencies "
           "[project.optional-dependencies] (or a lock's extra); repeatable",
           key="extras", metavar="NAME"),
    Option("groups", ("--group",), "texts", "add a PEP 735 dependency group from the project's "
           "pyproject.toml (or a lock's group: Poetry's and PDM's groups, a Pipfile.lock's dev or "
           "other category); repeatable", key="groups", metavar="NAME"),
    Option("outdir", ("-o", "--outdir"), "path", "where the archive goes (default: dist/)",
           key="output"),
    Option("name", ("--name",), "text", "bundle name (default: the project's name, else the "
           "input's folder name)", key="name"),
    Option("version", ("--version",), "text", "bundle version (default: the project's version, "
           "else the inputs' date)", key="version"),
    Option("targets", ("--target",), "targets", "the server to bundle for (repeatable): a "
           "shorthand like cp312-manylinux_2_28_aarch64, cp312-musllinux_1_2_x86_64, "
           "cp313-macosx_11_0_arm64, cp311-win_amd64, or a JSON file written by the 'bundle probe' "
           "script on the server (default: this machine)", key="targets", metavar="TARGET"),
    Option("index_url", ("--index-url",), "text", "base URL of the package index (like pip's)",
           key="index_url"),
    Option("extra_index_urls", ("--extra-index-url",), "texts", "another index to look in "
           "(repeatable)", key="extra_index_urls"),
    Option("find_links", ("--find-links",), "links", "a folder or page of distributions "
           "(repeatable)", key="find_links"),
    Option("trusted_hosts", ("--trusted-host",), "texts", "a host to trust without valid HTTPS "
           "(repeatable)", key="trusted_hosts"),
    Option("cache_dir", ("--cache-dir",), "path", "where downloads and builds are kept (default: "
           "$XDG_CACHE_HOME/wheelbundle)"),
    Option("use_cache", ("--no-cache",), "no-flag", "use a throw-away cache for this run"),
    Option("refresh", ("--refresh",), "flag", "resolve anew even if the same inputs were "
           "resolved in the last 24 hours"),
    Option("build_pythons", ("--build-python",), "pythons", "a Python to build sdists with for "
           "targets of its version (CPython 3.9 for a cp39 server); else one is looked for on "
           "PATH, in pyenv and in uv's Pythons; repeatable", key="build_pythons", metavar="PATH"),
    Option("policy", ("--policy",), "path", "a site's policy (YAML: licenses, vulnerabilities, "
           "origins, max_size); a bundle it refuses is not written, and each violation is named "
           "(exit 4)", metavar="FILE"),
    Option("osv", ("--osv",), "path", "a copy of the OSV database (osv.dev's PyPI/all.zip, or a "
           "folder of OSV JSON or YAML), for --policy's vulnerability rules; one holding no PyPI "
           "advisory is refused", metavar="PATH"),
    Option("osv_max_age", ("--osv-max-age",), "count", "refuse an OSV copy whose newest "
           "advisory changed more than DAYS days ago", metavar="DAYS"),
    Option("resolve", ("--resolve",), "flag", "resolve a project folder with pip even when a "
           "lock lies beside it"),
    Option("archive_format", ("--format",), "choice", "archive format (default: tar.gz, the one "
           "every server unpacks with tar and gzip)", key="format", choices=FORMATS),
    Option("jobs", ("-j", "--jobs"), "count", "parallel downloads (default: 8)"),
    Option("installer", ("--installer",), "choice", "what install.sh installs with (default: "
           "pip); uv: the bundle also carries the target's uv wheel and falls back to pip where "
           "uv cannot run", key="installer", choices=INSTALLERS),
    Option("sign_key", ("--sign",), "path", "sign SHA256SUMS with this OpenSSH key (ssh-keygen "
           "-Y sign); stored as SHA256SUMS.sig", key="sign_key", metavar="KEY"),
    Option("since", ("--since",), "path", "make a delta bundle: leave out every wheel the bundle "
           "OLD (a .tar.gz) already carries; install.sh --base OLD takes them from it",
           metavar="OLD"),
    Option("python_runtime", ("--python-runtime",), "text", "carry this python-build-standalone "
           "install_only archive (or its URL, checked against URL#sha256=… or the URL.sha256 "
           "beside it): install.sh builds the venv from it, so the server needs no Python. The "
           "target (Python, platform, glibc) is read from it", metavar="FILE|URL"),
)  # fmt: skip


def make_option(field: str) -> Option:
    """The table's entry for a field: for the commands that take one of make's options."""
    return next(o for o in MAKE_OPTIONS if o.field == field)
