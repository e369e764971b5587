"""The server a bundle is made for: its Python, the wheel tags it accepts, its marker environment.

A target is described exactly as ``support/probe.py`` describes a real server, so the build side
and the server side speak about the same thing.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from packaging import tags
from packaging.markers import default_environment
from packaging.utils import parse_wheel_filename

PURE = "py3-none-any"


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

    @property
    def display(self) -> str:
        """'CPython 3.12', as a person says it."""
        names = {"cpython": "CPython", "pypy": "PyPy"}
        return f"{names.get(self.implementation, self.implementation)} {self.python_version}"

    def accepts(self, wheel_filename: str) -> bool:
        """Whether this server's pip would install the wheel."""
        return self.rank(wheel_filename) is not None

    def rank(self, wheel_filename: str) -> int | None:
        """Position of the wheel's best tag in this target's preference list, None if unusable."""
        _, _, _, wheel_tags = parse_wheel_filename(wheel_filename)
        positions = [self._positions.get(str(t)) for t in wheel_tags]
        found = [p for p in positions if p is not None]
        return min(found) if found else None

    @property
    def _positions(self) -> dict[str, int]:
        return {tag: i for i, tag in reversed(list(enumerate(self.tags)))}

    def platform_needed(self, wheel_filenames: Iterable[str]) -> str:
        """The most demanding platform tag among the wheels, or 'any' for a pure set.

        The archive is named after it, and install.sh quotes it when a server does not fit.
        """
        best: tuple[int, str] | None = None
        for filename in wheel_filenames:
            _, _, _, wheel_tags = parse_wheel_filename(filename)
            for t in wheel_tags:
                pos = self._positions.get(str(t))
                if t.platform != "any" and pos is not None and (best is None or pos < best[0]):
                    best = (pos, t.platform)
        return best[1] if best else "any"

    def bundle_tag(self, wheel_filenames: Iterable[str]) -> str:
        """Name part of the archive: ``py3-none-any`` or ``cp312-manylinux_2_28_x86_64``."""
        names = list(wheel_filenames)
        plat = self.platform_needed(names)
        if plat == "any" and all(_is_pure(n) for n in names):
            return PURE
        return f"{self.interpreter}-{plat}"


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
