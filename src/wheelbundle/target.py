"""The server a bundle is made for: its Python, the wheel tags it accepts, its marker environment.

A target is described exactly as ``payload/probe.py`` describes a real server, so the build side
and the server side speak about the same thing.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from packaging import tags
from packaging.markers import default_environment
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion

from wheelbundle.errors import UsageError

_KNOWN_PLATFORM = re.compile(
    r"^((many|musl)linux_\d+_\d+_\w+|manylinux(1|2010|2014)_\w+|macosx_\d+_\d+_\w+"
    r"|win32|win_amd64|win_arm64|linux_\w+)$"
)
_SHORTHAND = re.compile(r"^(?P<impl>cp|pp)(?P<major>3)(?P<minor>\d+)-(?P<platform>[a-z0-9_]+)$")


@dataclass(frozen=True)
class Target:
    """One server kind: what pip must resolve for and what install.sh checks for."""

    implementation: str
    """``implementation_name`` marker, e.g. ``cpython``."""
    python_version: str
    """``major.minor``: markers were evaluated for it, so the server must have the same."""
    interpreter: str
    """Interpreter tag, e.g. ``cp312``."""
    tags: tuple[str, ...]
    """Every tag the server accepts, most preferred first (as ``packaging.tags.sys_tags``)."""
    markers: Mapping[str, str] = field(default_factory=dict)
    """The full PEP 508 marker environment."""
    label: str | None = None
    """The name the user gave (``cp312-manylinux_2_28_aarch64``); None for this machine."""

    @property
    def python_full_version(self) -> str:
        return self.markers.get("python_full_version", f"{self.python_version}.0")

    def probe_json(self) -> dict[str, Any]:
        """The target as ``payload/probe.py`` prints a server: what pip is told it runs on."""
        return {
            "format": 1,
            "implementation": self.implementation,
            "python_version": self.python_version,
            "python_full_version": self.python_full_version,
            "interpreter": self.interpreter,
            "tags": list(self.tags),
            "markers": dict(self.markers),
        }

    @property
    def display(self) -> str:
        """'CPython 3.12', as a person says it."""
        return f"{implementation_display(self.implementation)} {self.python_version}"

    @property
    def shorthand(self) -> str:
        """As ``--target`` names it: the name given, else this machine's Python and its most
        specific platform a wheel may carry (``cp311-manylinux_2_39_x86_64``: PyPI refuses
        ``linux_x86_64``, which only a wheel built here has)."""
        if self.label:
            return self.label
        order = self._platform_order
        return (
            f"{self.interpreter}-{next((p for p in order if not p.startswith('linux_')), order[0])}"
        )

    def accepts(self, wheel_filename: str) -> bool:
        """Whether this server's pip would install the wheel."""
        return self.rank(wheel_filename) is not None

    def rank(self, wheel_filename: str) -> int | None:
        """Position of the wheel's best tag in this target's preference list; None if unusable,
        a file name that is no wheel's included (pip passes such a file over)."""
        try:
            _, _, _, wheel_tags = parse_wheel_filename(wheel_filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        positions = [self._positions.get(str(t)) for t in wheel_tags]
        found = [p for p in positions if p is not None]
        return min(found) if found else None

    def meets_requires_python(self, requires_python: str | None) -> bool:
        """Whether this target's Python meets a file's Requires-Python. An invalid one is
        ignored, as pip's finder ignores it (it logs "Ignoring invalid Requires-Python")."""
        return _meets(requires_python or "", self.python_full_version)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {tag: i for i, tag in reversed(list(enumerate(self.tags)))}

    def platform_needed(self, wheel_filenames: Iterable[str]) -> str:
        """The most demanding platform among the wheels, or 'any' for a pure set.

        Each wheel needs only the least demanding of its own platform tags that this target
        accepts (a ``manylinux_2_17.manylinux_2_28`` wheel needs glibc 2.17); the bundle needs
        the most demanding of those. The archive is named after it, and install.sh quotes it.
        """
        order = {plat: i for i, plat in reversed(list(enumerate(self._platform_order)))}
        needs: list[tuple[int, str]] = []
        for filename in wheel_filenames:
            _, _, _, wheel_tags = parse_wheel_filename(filename)
            usable = [
                (order[_modern(t.platform)], _modern(t.platform))
                for t in wheel_tags
                if t.platform != "any" and str(t) in self._positions
            ]
            if usable:
                needs.append(max(usable))
        return min(needs)[1] if needs else "any"

    @cached_property
    def _platform_order(self) -> list[str]:
        """The target's platforms, most demanding (most specific) first."""
        return list(dict.fromkeys(_modern(tag.split("-", 2)[2]) for tag in self.tags))

    def bundle_tag(self, wheel_filenames: Iterable[str]) -> str:
        """Name part of the archive: ``cp312-none-any`` or ``cp312-manylinux_2_28_x86_64``.

        Pure wheels fit any platform, but their resolution was made for one Python (its markers,
        its ``Requires-Python``), and install.sh refuses another: the name says which.
        """
        names = list(wheel_filenames)
        plat = self.platform_needed(names)
        if plat == "any" and all(_is_pure(n) for n in names):
            return f"{self.interpreter}-none-any"
        return f"{self.interpreter}-{plat}"


def implementation_display(implementation: str) -> str:
    """``cpython`` as people (and ``platform_python_implementation``) write it: ``CPython``."""
    return {"cpython": "CPython", "pypy": "PyPy"}.get(implementation, implementation)


def _is_pure(wheel_filename: str) -> bool:
    _, _, _, wheel_tags = parse_wheel_filename(wheel_filename)
    return any(t.abi == "none" and t.platform == "any" for t in wheel_tags)


def host_target() -> Target:
    """The interpreter running this tool, which is also the one that runs pip."""
    return Target(
        implementation=sys.implementation.name,
        python_version=".".join(platform.python_version_tuple()[:2]),
        interpreter=f"{tags.interpreter_name()}{tags.interpreter_version()}",
        tags=tuple(str(t) for t in tags.sys_tags()),
        markers={k: str(v) for k, v in default_environment().items()},
    )


def parse_target(spec: str) -> Target:
    """A ``--target``: a JSON file from ``bundle probe``, or a shorthand like ``cp312-win_amd64``."""
    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        return _from_file(path)
    match = _SHORTHAND.match(spec)
    if not match:
        raise UsageError(
            f"--target {spec}: expected a JSON file from 'bundle probe' or a shorthand like "
            "cp312-manylinux_2_28_x86_64, cp312-musllinux_1_2_aarch64, cp313-macosx_11_0_arm64, "
            "cp311-win_amd64"
        )
    minor = int(match["minor"])
    plat = match["platform"]
    if not _KNOWN_PLATFORM.match(plat):
        raise UsageError(
            f"--target {spec}: unknown platform {plat!r}; use manylinux_2_N_ARCH, musllinux_1_N_ARCH, "
            "macosx_X_Y_ARCH, win_amd64, win32, win_arm64 or linux_ARCH"
        )
    # Every version below it is a tag the server accepts: an absurd one would list billions.
    versions = [minor, *map(int, _PLATFORM_VERSION.findall(plat))]
    if max(versions) > _HIGHEST_VERSION:
        raise UsageError(
            f"--target {spec}: names a version no server has ({max(versions)}); give the "
            "Python and platform versions of a real one, or describe it with 'bundle probe'"
        )
    platforms = list(expand_platform(plat))
    impl = "cpython" if match["impl"] == "cp" else "pypy"
    interpreter = f"{match['impl']}3{minor}"
    if impl == "cpython":
        found = [*tags.cpython_tags((3, minor), platforms=platforms)]
    else:
        found = [*tags.generic_tags(interpreter, platforms=platforms)]
    found += tags.compatible_tags((3, minor), interpreter, platforms)
    return Target(
        implementation=impl,
        python_version=f"3.{minor}",
        interpreter=interpreter,
        tags=tuple(dict.fromkeys(str(t) for t in found)),
        markers=_shorthand_markers(impl, minor, plat),
        label=spec,
    )


#: The numbers of a platform's version: glibc's 2_28, musl's 1_2, macOS's 14_0.
_PLATFORM_VERSION = re.compile(r"(?<=_)(\d+)(?=_)")
_HIGHEST_VERSION = 99
"""No Python 3 minor, glibc, musl or macOS version part has reached it; 3.99 never will."""


def _from_file(path: Path) -> Target:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Target(
            implementation=str(data["implementation"]),
            python_version=str(data["python_version"]),
            interpreter=str(data["interpreter"]),
            tags=tuple(str(t) for t in data["tags"]),
            markers={str(k): str(v) for k, v in data["markers"].items()},
            label=f"{data['interpreter']}-{data['tags'][0].split('-', 2)[2]}",
        )
    except FileNotFoundError:
        raise UsageError(f"--target {path}: no such file") from None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise UsageError(
            f"--target {path}: not a server description from 'bundle probe' ({exc})"
        ) from exc


def expand_platform(plat: str) -> Iterator[str]:
    """Every platform tag a server of this kind accepts, most specific first, as its pip would."""
    if m := re.match(r"^manylinux_(\d+)_(\d+)_(.+)$", plat):
        major, minor, arch = int(m[1]), int(m[2]), m[3]
        lowest = 5 if arch in ("x86_64", "i686") else 17
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        for glibc in range(minor, lowest - 1, -1):
            yield f"manylinux_{major}_{glibc}_{arch}"
            if glibc in legacy and (glibc == 17 or arch in ("x86_64", "i686")):
                yield f"{legacy[glibc]}_{arch}"
        yield f"linux_{arch}"
    elif m := re.match(r"^musllinux_(\d+)_(\d+)_(.+)$", plat):
        for musl in range(int(m[2]), -1, -1):
            yield f"musllinux_{m[1]}_{musl}_{m[3]}"
        yield f"linux_{m[3]}"
    elif m := re.match(r"^macosx_(\d+)_(\d+)_(.+)$", plat):
        yield from tags.mac_platforms((int(m[1]), int(m[2])), m[3])
    else:
        yield plat


def _shorthand_markers(impl: str, minor: int, plat: str) -> dict[str, str]:
    """The marker environment a server of this kind has, as far as its name tells."""
    arch = plat.split("_", 3)[-1] if plat.startswith(("manylinux", "musllinux")) else plat
    if plat.startswith("win"):
        system, sys_platform, os_name = "Windows", "win32", "nt"
        machine = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}.get(plat, plat)
    elif plat.startswith("macosx"):
        system, sys_platform, os_name = "Darwin", "darwin", "posix"
        machine = plat.split("_", 3)[-1]
    else:
        system, sys_platform, os_name = "Linux", "linux", "posix"
        machine = arch.removeprefix("linux_")
    full = f"3.{minor}.0"
    return {
        "implementation_name": impl,
        "implementation_version": full,
        "os_name": os_name,
        "platform_machine": machine,
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": implementation_display(impl),
        "python_version": f"3.{minor}",
        "sys_platform": sys_platform,
    }


_LEGACY_MANYLINUX = {
    "manylinux2014": "manylinux_2_17",
    "manylinux2010": "manylinux_2_12",
    "manylinux1": "manylinux_2_5",
}


def _modern(plat: str) -> str:
    """``manylinux2014_aarch64`` is ``manylinux_2_17_aarch64`` by its PEP 600 name."""
    legacy, _, arch = plat.partition("_")
    return f"{_LEGACY_MANYLINUX[legacy]}_{arch}" if legacy in _LEGACY_MANYLINUX else plat


@lru_cache(maxsize=4096)
def _meets(requires_python: str, python: str) -> bool:
    """Cached: a page lists the same few specifiers on thousands of files (botocore: 20,000)."""
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True
