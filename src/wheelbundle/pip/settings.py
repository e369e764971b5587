"""How pip, and the fetcher that follows it, reads the indexes: the part of a command's options
that resolving and collecting are given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PipSettings:
    """How pip, and the fetcher that follows it, reads the indexes: what ``resolve`` and
    ``collect`` are given of the options."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    jobs: int = 8
    verbose: bool = False
    refresh: bool = False
    """Resolve anew even when a stored resolution of the same inputs is fresh."""
    installer: str = "pip"
    """``uv``: each target's uv wheel is resolved too."""
    build_pythons: tuple[Path, ...] = ()
    """``--build-python``: Pythons to build sdists with for targets of their version."""

    def index_options(self) -> list[str]:
        """Only what the user set: pip's own configuration fills in the rest."""
        opts: list[str] = []
        if self.index_url:
            opts += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            opts += ["--extra-index-url", url]
        for link in self.find_links:
            opts += ["--find-links", link]
        for host in self.trusted_hosts:
            opts += ["--trusted-host", host]
        return opts
