"""Resolution: ask pip which exact files make up the environment, and read its JSON report.

pip's resolver is the only resolver: we run ``pip install --dry-run --ignore-installed --report``
and turn each entry into a frozen :class:`Pin`. Nothing is installed anywhere.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelbundle.errors import BundleError, PipFailed
from wheelbundle.pip import Runner, run_pip
from wheelbundle.relay import Relay
from wheelbundle.target import Target


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
    """``License-Expression`` and ``Classifier`` as pip read them: the license without
    opening the wheel again (a rebuild reads them from the kept report)."""

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


def remembered(memo: Path, max_age: float) -> Resolution | None:
    """The resolution kept in ``memo`` while it is younger than ``max_age`` seconds.

    One that cannot be read (cut short by a full disk, damaged) is removed: pip resolves anew.
    """
    if not memo.is_file() or time.time() - memo.stat().st_mtime >= max_age:
        return None
    try:
        return parse_report(json.loads(memo.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError):  # JSONDecodeError, UnicodeDecodeError
        memo.unlink(missing_ok=True)
        return None


def resolve(
    requirements: Sequence[str],
    pip_options: Sequence[str] = (),
    *,
    target: Target | None = None,
    verbose: bool = False,
    run: Runner = run_pip,
    memo: Path | None = None,
    relay: Relay | None = None,
) -> Resolution:
    """Resolve pip-style requirement arguments (``-r file``, specifiers, paths) to pins.

    For a ``target`` other than this machine, pip resolves with the target's tags, Python
    version and markers. With ``memo``, pip's report is kept there (see :func:`remembered`).
    With ``relay``, pip reads the indexes through it (``pip_options`` then holds no index);
    the report is kept with the indexes' own URLs.
    """
    with tempfile.TemporaryDirectory(prefix="wheelbundle-resolve-") as tmp:
        report_path = Path(tmp) / "report.json"
        target_file = None
        if target is not None and target.label is not None:
            target_file = Path(tmp) / "target.json"
            target_file.write_text(json.dumps(target.describe()), encoding="utf-8")
        args = [
            "install",
            "--dry-run",
            "--ignore-installed",  # not --quiet: it hides pip's account of a conflict
            "--report",
            str(report_path),
            *pip_options,
            *requirements,
        ]
        try:
            run(args, verbose, target_file, indexes=relay.index_urls if relay else ())
        except PipFailed as exc:
            if relay is not None and relay.failure is not None:
                raise relay.failure from exc  # pip's message would only name the relay
            raise
        report = json.loads(report_path.read_text(encoding="utf-8"))
    if relay is not None:
        for item in report["install"]:
            item["download_info"]["url"] = relay.original(item["download_info"]["url"])
    resolution = parse_report(report)
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_name(f".{memo.name}.{os.getpid()}.part")
        partial.write_text(json.dumps(report), encoding="utf-8")
        partial.replace(memo)
    return resolution


def unmet(pins: Sequence[Pin], environment: Mapping[str, str]) -> list[str]:
    """What the pins require on this environment but do not hold, one phrase each.

    A complete lock resolved with ``--no-deps`` must already hold every dependency; this finds
    the ones it misses, the way pip's hash-checking mode would refuse them.
    """
    pinned = {p.name: Version(p.version) for p in pins}
    missing = []
    for pin in pins:
        for text in pin.requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({**environment, "extra": extra})
                for extra in ("", *pin.requested_extras)
            ):
                continue
            name = canonicalize_name(requirement.name)
            if name not in pinned:
                missing.append(f"{pin.name} {pin.version} needs {text}, which is not pinned")
            elif not requirement.specifier.contains(pinned[name], prereleases=True):
                missing.append(f"{pin.name} {pin.version} needs {text}, not {name} {pinned[name]}")
    return missing


def decisions(requirements: Iterable[str], environment: Mapping[str, str]) -> dict[str, bool]:
    """Every environment marker among ``requirements`` and what it came to for ``environment``.

    A resolution holds only for a server on which each of them comes out the same: a marker
    like ``python_full_version < "3.11.3"`` can add or drop a package between two patch levels
    of one Python. Markers on extras alone are left out: they ask nothing of the server.
    """
    decided = {}
    for text in requirements:
        try:
            marker = Requirement(text).marker
        except InvalidRequirement:
            continue  # an option, a path or a URL: pip has read it already
        if marker is not None and _asks_the_server(str(marker)):
            decided[str(marker)] = marker.evaluate({**environment, "extra": ""})
    return dict(sorted(decided.items()))


def _asks_the_server(marker: str) -> bool:
    """Whether a marker names a variable of the environment, not only ``extra`` and the like."""
    names = set(_NAME.findall(_QUOTED.sub("", marker)))
    return bool(names - {"extra", "extras", "dependency_groups", "and", "or", "in", "not"})


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NAME = re.compile(r"[A-Za-z_]+")


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
    )


def _sha256_of(archive_info: Mapping[str, Any]) -> str | None:
    hashes = archive_info.get("hashes") or {}
    if "sha256" in hashes:
        return str(hashes["sha256"])
    legacy = str(archive_info.get("hash", ""))
    return legacy.removeprefix("sha256=") if legacy.startswith("sha256=") else None
