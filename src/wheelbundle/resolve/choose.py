"""What pip's finder would take for a target, in one place: the relay's guesses, the pages it
trims, and the lock finder's choice of wheel all ask here.

pip's own rules, as its finder applies them: a file whose Requires-Python the target does not
meet, or a wheel none of whose tags the target accepts, is passed over (``Target``'s two
checks); the newest version the requirements allow is taken, a pre-release only when nothing
else fits or a specifier names one, and of its wheels the one whose tag ranks best.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from wheelbundle.net.simple import PageFile
from wheelbundle.target import Target

#: Every archive pip takes a distribution from; a page's URL never ends so.
ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz")


def best_wheel(files: Mapping[str, str], target: Target) -> tuple[str, str] | None:
    """The wheel among ``files`` the target's pip would prefer; None when there is none."""
    ranked = []
    for url, digest in files.items():
        filename = unquote(Path(urlsplit(url).path).name)
        if filename.endswith(".whl") and (rank := target.rank(filename)) is not None:
            ranked.append((rank, filename, url, digest))
    if not ranked:
        return None
    _, _, url, digest = min(ranked)
    return url, digest


def likely_choice(
    files: Sequence[PageFile], wanted: SpecifierSet, target: Target
) -> PageFile | None:
    """The wheel pip's finder would take for ``target``: the newest version ``wanted`` allows
    (a pre-release only when nothing else fits or ``wanted`` names one), not yanked, whose
    Requires-Python the target meets, and of that version the wheel whose tag ranks best.
    None when the newest such version has no fitting wheel (pip would take its sdist).

    Pages list thousands of files (botocore's: 20,000), so versions are parsed once each and
    files are looked at closely only for the newest versions, until one fits.
    """
    by_version: dict[str, list[PageFile]] = {}
    for file in files:
        if not file.yanked:
            by_version.setdefault(_version_text(file.filename), []).append(file)
    versions = []
    for text in by_version:
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if wanted.contains(version, prereleases=bool(wanted.prereleases)):  # as pip: a
            versions.append((version, text))  # pre-release only if a specifier names one
    if not versions:  # pip then allows pre-releases
        versions = [(v, t) for v, t in _parsed(by_version) if wanted.contains(v, prereleases=True)]
    for _, text in sorted(versions, reverse=True):
        ranked = [
            (target.rank(f.filename) if f.filename.endswith(".whl") else len(target.tags), f)
            for f in by_version[text]
            if target.meets_requires_python(f.requires_python)
        ]
        usable = [(rank, f) for rank, f in ranked if rank is not None]
        if usable:
            best = min(usable, key=lambda pair: pair[0])[1]
            return best if best.filename.endswith(".whl") else None
    return None


def for_target(page: str, target: Target) -> str:
    """A PEP 691 page without the files pip would pass over for ``target``: wheels whose tags
    it does not accept, and files whose Requires-Python it does not meet. pip parses every file
    on a page before choosing; on the web stack's 44 pages that was most of its time.
    """
    try:
        data = json.loads(page)
        data["files"] = [
            f
            for f in data["files"]
            if target.meets_requires_python(f.get("requires-python"))
            and (not f["filename"].endswith(".whl") or target.accepts(f["filename"]))
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return page  # not a page we can read: pip gets it as it is
    return json.dumps(data)


def _version_text(filename: str) -> str:
    """The version part of a wheel's or an sdist's file name, unparsed."""
    if filename.endswith(".whl"):
        return filename.split("-")[1]
    stem = next((filename[: -len(e)] for e in ARCHIVES if filename.endswith(e)), filename)
    return stem.rpartition("-")[2]


def _parsed(by_version: Mapping[str, object]) -> Iterator[tuple[Version, str]]:
    for text in by_version:
        try:
            yield Version(text), text
        except InvalidVersion:
            continue
