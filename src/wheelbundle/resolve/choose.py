"""What pip's finder would take for a target, in one place: the relay's guesses, the pages it
trims, and the lock finder's choice of wheel all ask here.

pip's own rules, as its finder applies them: a file whose Requires-Python the target does not
meet, or a wheel none of whose tags the target accepts, is passed over (``Target``'s two
checks); the newest version the requirements allow is taken, a pre-release only when nothing
else fits or a specifier names one, and of its wheels the one whose tag ranks best.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from wheelbundle.net.simple import PageFile
from wheelbundle.pip.runner import needs_other_python
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
        if file.yanked is None:
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


def for_target(page: dict[str, Any], target: Target) -> dict[str, Any]:
    """A PEP 691 page (see ``simple.json_page``) without the files pip would pass over for
    ``target``: wheels whose tags it does not accept, and files whose Requires-Python it does
    not meet. pip parses every file on a page before choosing; on the web stack's 44 pages that
    was most of its time. pip can then no longer say why it found nothing: :func:`why_none_fits`
    says it from the whole page.
    """
    return {**page, "files": [f for f in page["files"] if _fits(f, target)]}


def _fits(file: Mapping[str, Any], target: Target) -> bool:
    filename = str(file["filename"])
    requires_python = file.get("requires-python")
    return target.meets_requires_python(
        requires_python if isinstance(requires_python, str) else None
    ) and (not filename.endswith(".whl") or target.accepts(filename))


def why_none_fits(
    requirement: Requirement, files: Sequence[PageFile], target: Target
) -> str | None:
    """Why pip's finder took none of a project's ``files`` for ``requirement`` on ``target``,
    as the error to give; None when some file fits (the cause lies elsewhere) or no version
    matches (the name or the version is wrong).

    Every matching version needing another Python is said as pip says it; else the newest
    matching version is named with the tags its wheels have.
    """
    matching: dict[Version, list[PageFile]] = {}
    for version, file in _versioned(files):
        if requirement.specifier.contains(version, prereleases=True):
            matching.setdefault(version, []).append(file)
    usable = [
        f
        for found in matching.values()
        for f in found
        if target.meets_requires_python(f.requires_python)
        and (not f.filename.endswith(".whl") or target.accepts(f.filename))
    ]
    if not matching or usable:
        return None
    newest = sorted(matching, reverse=True)
    other_python = {
        v: needs for v in newest if (needs := _python_needed(matching[v], target)) is not None
    }
    if len(other_python) == len(newest):
        versions = [f"{v} Requires-Python {other_python[v]}" for v in sorted(other_python)]
        return needs_other_python(str(requirement), target.python_version, versions)
    version = next(v for v in newest if v not in other_python)
    wheels = [f.filename for f in matching[version] if f.filename.endswith(".whl")]
    tags = sorted({"-".join(name.removesuffix(".whl").split("-")[-3:]) for name in wheels})
    return (
        f"{requirement.name} {version} has no file for {target.shorthand}, the target: its "
        f"wheels are for {_listed(tags)}, and it has no sdist; bundle for a target it has "
        "wheels for with --target, pin a version that has one for this target, or build a "
        "wheel and give it with --find-links"
    )


def _python_needed(files: Sequence[PageFile], target: Target) -> str | None:
    """The Requires-Python that keeps every one of a version's files from the target."""
    needs = [
        f.requires_python for f in files if not target.meets_requires_python(f.requires_python)
    ]
    return needs[0] if needs and len(needs) == len(files) else None


def _listed(items: Sequence[str], most: int = 6) -> str:
    shown = list(items[:most]) + ([f"{len(items) - most} more"] if len(items) > most else [])
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _versioned(files: Sequence[PageFile]) -> Iterator[tuple[Version, PageFile]]:
    for file in files:
        try:
            yield Version(_version_text(file.filename)), file
        except InvalidVersion:
            continue


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
