"""What pip chose, as values: one frozen :class:`Pin` per distribution, read from its report.

Apart from the machinery that asks pip (``resolve``), so that readers of pins (the lock
finders, the bundle's pylock, ``verify``) import no pip runner and no relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from wheelbundle.errors import BundleError


@dataclass(frozen=True)
class Pin:
    """One distribution pip chose, exactly as its report names it."""

    name: str
    """Canonical (PEP 503) name."""
    version: str
    url: str
    """Where pip found it (credentials already stripped by pip)."""
    kind: str
    """``wheel``, ``sdist``, ``dir`` (a local project) or ``vcs``."""
    sha256: str | None
    """The hash the index published; None where there is none (a folder, a VCS checkout)."""
    requested: bool
    requires: tuple[str, ...] = ()
    """``Requires-Dist`` as pip read it, for the dependency graph."""
    vcs: str | None = None
    """For a VCS pin: the tool (``git``) and the exact commit pip checked out."""
    vcs_commit: str | None = None
    editable: bool = False
    """A ``-e`` requirement: bundled as a regular install (a wheel built from the folder)."""
    provides_extra: tuple[str, ...] = ()
    """``Provides-Extra``: the extras the distribution knows, to refuse an unknown ``--extra``."""
    requested_extras: tuple[str, ...] = ()
    """The extras a requirement asked of it (``name[extra]``)."""
    license_expression: str | None = None
    classifiers: tuple[str, ...] = ()
    license: str | None = None
    """``License-Expression``, ``Classifier`` and ``License`` as pip read them: the license
    without opening the wheel again (a rebuild reads them from the kept report)."""

    @property
    def filename(self) -> str:
        return unquote(Path(urlsplit(self.url).path).name)

    @property
    def source(self) -> str:
        """What ``pip wheel`` builds from when the pin is not a wheel."""
        if self.kind == "vcs":
            return f"{self.vcs}+{self.url}@{self.vcs_commit}"
        if self.kind == "dir":
            return unquote(urlsplit(self.url).path)
        return self.url


@dataclass(frozen=True)
class Resolution:
    """Everything pip decided, plus what it decided it for."""

    pins: tuple[Pin, ...]
    pip_version: str
    environment: Mapping[str, str]


def parse_report(report: Mapping[str, Any]) -> Resolution:
    """Read pip's installation report (format version 1)."""
    if str(report.get("version")) != "1":
        raise BundleError(
            f"pip wrote an installation report of unknown version {report.get('version')}"
        )
    pins = tuple(sorted((_pin(item) for item in report["install"]), key=lambda p: p.name))
    return Resolution(
        pins=pins,
        pip_version=str(report.get("pip_version", "")),
        environment=dict(report.get("environment", {})),
    )


def _pin(item: Mapping[str, Any]) -> Pin:
    info = item["download_info"]
    meta = item["metadata"]
    url = str(info["url"])
    vcs = info.get("vcs_info")
    archive = info.get("archive_info")
    if vcs is not None:
        kind, sha256 = "vcs", None
    elif "dir_info" in info:
        kind, sha256 = "dir", None
    else:
        kind = "wheel" if url.split("#")[0].endswith(".whl") else "sdist"
        sha256 = _sha256_of(archive or {})
    return Pin(
        name=canonicalize_name(meta["name"]),
        version=str(meta["version"]),
        url=url,
        kind=kind,
        sha256=sha256,
        requested=bool(item.get("requested")),
        requires=tuple(meta.get("requires_dist", ())),
        vcs=vcs.get("vcs") if vcs else None,
        vcs_commit=vcs.get("commit_id") if vcs else None,
        editable=bool((info.get("dir_info") or {}).get("editable")),
        provides_extra=tuple(canonicalize_name(e) for e in meta.get("provides_extra", ())),
        requested_extras=tuple(canonicalize_name(e) for e in item.get("requested_extras", ())),
        license_expression=meta.get("license_expression"),
        classifiers=tuple(meta.get("classifier", ())),
        license=meta.get("license"),
    )


def _sha256_of(archive_info: Mapping[str, Any]) -> str | None:
    hashes = archive_info.get("hashes") or {}
    if "sha256" in hashes:
        return str(hashes["sha256"])
    legacy = str(archive_info.get("hash", ""))
    return legacy.removeprefix("sha256=") if legacy.startswith("sha256=") else None
