"""Finding the files a complete hash-pinned lock names, without asking pip to resolve it.

pip spends seconds on a pinned lock: it reads and evaluates every link of every project page
(54,000 of them on the web stack) to pick among candidates the lock has already decided. A
lock names each file by its sha256, and a PEP 503 page carries each file's sha256 in its link's
fragment, so finding the file is a search for that hash on the project's page; the target's tags
pick among the files the lock allows, as pip would. Whatever this cannot settle (an option or a
find-links folder in play, a package whose only fitting file is an sdist, a page without hashes)
is left to pip: :func:`find_locked` then returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelbundle.format.pins import Pin
from wheelbundle.format.wheelfile import wheel_metadata
from wheelbundle.inputs.pinned_hashes import GivenHashes
from wheelbundle.inputs.reqfile import RequirementFiles, included_file
from wheelbundle.net.simple import links_with_sha256
from wheelbundle.pip.config import pip_settings
from wheelbundle.resolve.choose import best_wheel
from wheelbundle.target import Target

PageReader = Callable[[str], tuple[str, str] | None]
"""Fetch a project page: its final URL and text, or None when the index has no such page."""
FileFetcher = Callable[[Sequence[Pin]], Mapping[str, Path]]
"""Download pins' files (hash-checked) and return their local paths by URL."""


@dataclass(frozen=True)
class LockedLine:
    """One ``name==version --hash=…`` line that applies to the target."""

    name: str
    version: str
    extras: tuple[str, ...]
    sha256s: frozenset[str]


#: pip settings that do not change which file a hash names (or that this module follows).
_NEUTRAL = {
    *("index-url", "extra-index-url", "cert", "client-cert", "timeout", "default-timeout"),
    *("retries", "trusted-host", "disable-pip-version-check", "no-input", "cache-dir"),
    *("no-cache-dir", "progress-bar", "root-user-action", "config-file", "no-color"),
    *("quiet", "verbose", "require-virtualenv", "user", "break-system-packages", "proxy"),
}
PYPI = "https://pypi.org/simple/"


def plain_indexes(
    index_url: str | None,
    extra_index_urls: Sequence[str],
    other_options: bool,
    requirements: RequirementFiles,
    environ: Mapping[str, str],
    pip_config: Callable[[], str],
) -> list[str] | None:
    """The indexes pip would search, when nothing else decides which file it takes; else None.

    As pip layers them: the command line over ``PIP_*`` variables over pip's configuration
    (``pip_config`` gives ``pip config list``). Any other setting (find-links, binary or
    pre-release choices, an option line in a requirements file) leaves the finding to pip.
    """
    if other_options or any(
        line.text.startswith("-") and included_file(line.text) is None
        for line in requirements.lines
    ):
        return None  # an option line in a requirements file (or an include of a URL)
    settings = pip_settings(environ, pip_config)
    if any(key not in _NEUTRAL for key in settings):
        return None
    first = index_url or settings.get("index-url") or PYPI
    extra = list(extra_index_urls) or settings.get("extra-index-url", "").split()
    return [first, *extra]


def locked_lines(
    given: Mapping[str, GivenHashes], environment: Mapping[str, str]
) -> list[LockedLine] | None:
    """The lock's lines for this environment; None unless each is an exact sha256 pin."""
    lines = []
    for entry in given.values():
        try:
            requirement = Requirement(entry.requirement)
        except InvalidRequirement:
            return None
        pins = list(requirement.specifier)
        sha256s = frozenset(digest for algorithm, digest in entry.hashes if algorithm == "sha256")
        if entry.repeated or len(pins) != 1 or pins[0].operator != "==" or not sha256s:
            return None
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        lines.append(
            LockedLine(
                name=canonicalize_name(requirement.name),
                version=pins[0].version,
                extras=tuple(sorted(canonicalize_name(e) for e in requirement.extras)),
                sha256s=sha256s,
            )
        )
    return lines


def files_on_page(
    page: str, page_url: str, sha256s: frozenset[str], target: Target
) -> dict[str, str]:
    """The links on a PEP 503 page whose sha256 is one of ``sha256s``: URL to hash.

    As pip does, a file whose ``data-requires-python`` the target's Python does not meet is
    passed over (pip then fails with its own message), and so is a link pip cannot read.
    """
    found = {}
    for link in links_with_sha256(page, page_url, sha256s):
        if link.sha256 and target.meets_requires_python(link.requires_python):
            with suppress(ValueError):  # not a URL (a broken IPv6 host): pip passes it over too
                found[link.url] = link.sha256
    return found


def find_locked(
    lines: Sequence[LockedLine],
    index_urls: Sequence[str],
    target: Target,
    read_page: PageReader,
    fetch: FileFetcher,
    jobs: int = 8,
) -> tuple[Pin, ...] | None:
    """Pins for a complete lock, each file found by its hash and downloaded; None to ask pip."""

    def one(line: LockedLine) -> Pin | None:
        for index in index_urls:
            page = read_page(f"{index.rstrip('/')}/{line.name}/")
            if page is None:
                continue
            files = files_on_page(page[1], page[0], line.sha256s, target)
            if chosen := best_wheel(files, target):
                url, digest = chosen
                return Pin(
                    name=line.name,
                    version=line.version,
                    url=url,
                    kind="wheel",
                    sha256=digest,
                    requested=True,
                    requested_extras=line.extras,
                )
        return None

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        found = list(pool.map(one, lines))
    pins = [pin for pin in found if pin is not None]
    if len(pins) != len(found):
        return None
    files = fetch(pins)
    return tuple(
        sorted(
            (_with_requires(pin, files[pin.url]) for pin in pins),
            key=lambda p: p.name,
        )
    )


def _with_requires(pin: Pin, wheel: Path) -> Pin:
    """The pin with its wheel's ``Requires-Dist`` and ``Provides-Extra``, as pip's report has."""
    metadata = wheel_metadata(wheel)
    return replace(
        pin,
        requires=tuple(metadata.get_all("Requires-Dist") or ()),
        provides_extra=tuple(
            canonicalize_name(e) for e in metadata.get_all("Provides-Extra") or ()
        ),
    )
