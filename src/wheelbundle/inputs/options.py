"""What ``bundle make`` was asked for, as one frozen value the CLI builds; each stage is handed
only its own part of it (``PipSettings`` for resolving and collecting, the name and version for
describing), so that its signature says what it depends on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wheelbundle.pip.settings import PipSettings


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
