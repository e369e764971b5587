"""``--python-runtime``: a python-build-standalone interpreter carried in the bundle.

Servers often have no Python, or the wrong one. python-build-standalone publishes relocatable
CPython builds as ``install_only`` archives: a tar.gz whose one top folder is ``python/``. The
bundle carries such an archive whole and install.sh builds the venv from it, so the server needs
only ``/bin/sh``, tar and gzip.

The target is read from the runtime itself, never from its file name: its exact version from
``include/python3.X/patchlevel.h``, its architecture from its executable's ELF header, and the
oldest glibc it runs on from the highest ``GLIBC_2.N`` symbol version its ELF files ask for.
That glibc becomes the target's manylinux level, so every wheel chosen runs wherever the
runtime does: without running it, a runtime for another architecture is bundled the same way.
"""

from __future__ import annotations

import platform
import re
import struct
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from wheelbundle.cache import CHUNK, sha256_file
from wheelbundle.errors import FetchFailed, UsageError
from wheelbundle.format.manifest import Manifest, Runtime
from wheelbundle.format.members import RUNTIME_TOP, checked
from wheelbundle.net.fetch import Download, Fetcher
from wheelbundle.redaction import redact
from wheelbundle.target import Target, parse_target

#: ELF ``e_machine`` values of the architectures python-build-standalone builds, by uname -m.
_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i686", 40: "armv7l", 21: "ppc64le", 22: "s390x"}
_PY_VERSION = re.compile(rb'#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)[^"]*"')
_GLIBC = re.compile(rb"GLIBC_2\.(\d+)\x00")
_PATCHLEVEL = re.compile(r"^python/include/python3\.\d+t?/patchlevel\.h$")
_EXECUTABLE = re.compile(r"^python/bin/python3\.\d+t?$")
#: The oldest glibc a manylinux tag names for these architectures (PEP 600: manylinux2014).
_LOWEST_GLIBC = 17
#: patchlevel.h is a few kilobytes; no more of it is read.
_PATCHLEVEL_MAX = 1 << 16
#: Longer than any ``GLIBC_2.N\0``: what one chunk keeps of the last, to find one cut in two.
_GLIBC_OVERLAP = 16


@dataclass(frozen=True)
class RuntimeFile:
    """A runtime archive on disk, and what it is."""

    path: Path
    runtime: Runtime

    def target(self) -> Target:
        """The server kind this runtime makes: its Python, its architecture, its glibc."""
        runtime = self.runtime
        major, minor, _ = runtime.python.split(".")
        glibc = runtime.glibc.split(".")[1]
        target = parse_target(f"cp{major}{minor}-manylinux_2_{glibc}_{runtime.machine}")
        markers = {
            **target.markers,
            "python_full_version": runtime.python,
            "implementation_version": runtime.python,
        }
        return Target(
            implementation=target.implementation,
            python_version=target.python_version,
            interpreter=target.interpreter,
            tags=target.tags,
            markers=markers,
            label=target.label,
        )


def carrying(manifest: Manifest, runtime: RuntimeFile) -> Manifest:
    """The manifest of a bundle made for ``runtime``'s target, carrying it.

    Named for the runtime's platform even when every wheel is pure: the interpreter is not.
    """
    (entry,) = manifest.targets
    name = runtime.target().label
    assert name is not None
    platform = name.split("-", 1)[1]
    carried = replace(entry, name=name, platform=platform, runtime=runtime.runtime)
    return replace(manifest, targets=(carried,))


def obtain_runtime(spec: str, fetcher: Fetcher) -> RuntimeFile:
    """The runtime ``--python-runtime`` names: a file, or a URL downloaded once into the cache.

    A URL is checked against ``#sha256=`` when it carries one, else against the ``URL.sha256``
    file python-build-standalone publishes beside each asset; without either it is refused.
    """
    parts = urlsplit(spec)
    if parts.scheme in ("http", "https", "file"):
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        url = spec.partition("#")[0]
        sha256 = _fragment_sha256(parts.fragment) or _published_sha256(url, fetcher)
        try:
            path = fetcher.fetch(Download(url, filename, sha256, "the Python runtime"))
        except FetchFailed as exc:
            raise FetchFailed(f"--python-runtime: {exc}") from exc
        return RuntimeFile(path, read_runtime(path, source=url))
    path = Path(spec)
    if not path.is_file():
        raise UsageError(
            f"--python-runtime {spec}: no such file; give a python-build-standalone "
            "install_only archive (cpython-3.X.Y+DATE-ARCH-unknown-linux-gnu-install_only.tar.gz) "
            "or its URL"
        )
    return RuntimeFile(path, read_runtime(path, source=str(path.resolve())))


@contextmanager
def unpacked_python(runtime: RuntimeFile, scratch: Path) -> Iterator[Path | None]:
    """The runtime's own ``python3``, unpacked into ``scratch`` for the run and removed after,
    when it runs on this machine and is not this Python's version: then the very interpreter
    that will run the wheels on the server builds them here."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}."
    if runtime.runtime.machine != platform.machine() or runtime.runtime.python.startswith(here):
        yield None
        return
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".runtime-") as tmp:
        try:  # checked when it was read (read_runtime); checked again as it is unpacked
            with tarfile.open(runtime.path, "r|gz") as tar:
                for member in checked(tar, RUNTIME_TOP, f"--python-runtime {runtime.path.name}"):
                    tar.extract(member, tmp, filter="data")
        except (ValueError, tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise UsageError(
                f"--python-runtime {runtime.path.name}: cannot unpack it ({exc})"
            ) from exc
        yield Path(tmp) / RUNTIME_TOP / "bin" / "python3"


def read_runtime(path: Path, source: str) -> Runtime:
    """What the archive at ``path`` is, read from its files; UsageError when it is not one, or
    when any member is one install.sh must not unpack (see ``members``)."""
    version: str | None = None
    machine: str | None = None
    glibc = 0
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in checked(tar, RUNTIME_TOP, f"--python-runtime {path.name}"):
                if not member.isfile():
                    continue
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file
                if _PATCHLEVEL.match(member.name):
                    version = _version(stream.read(_PATCHLEVEL_MAX))
                elif _is_elf_candidate(member.name):
                    found = _elf_facts(stream)
                    if found is None:
                        continue
                    glibc = max(glibc, found[1])
                    if _EXECUTABLE.match(member.name):
                        machine = _machine(found[0], path)
            size = path.stat().st_size
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _not_a_runtime(path, f"cannot be read as a tar.gz ({exc})") from exc
    if version is None:
        raise _not_a_runtime(path, "it has no python/include/python3.X/patchlevel.h")
    if machine is None:
        raise _not_a_runtime(path, "it has no Linux executable python/bin/python3.X")
    if glibc == 0:
        raise UsageError(
            f"--python-runtime {path.name}: its executable links no glibc (a musl or static "
            "build); give an ARCH-unknown-linux-gnu runtime"
        )
    return Runtime(
        file=path.name,
        python=version,
        machine=machine,
        glibc=f"2.{max(glibc, _LOWEST_GLIBC)}",
        sha256=sha256_file(path),
        size=size,
        source=source,
    )


def _elf_facts(stream: IO[bytes]) -> tuple[bytes, int] | None:
    """An ELF file's header and the highest ``GLIBC_2.N`` it names; None when not ELF.

    Read in chunks, a little overlapping so that no symbol version is cut in two: memory stays
    flat whatever the file's size.
    """
    head = stream.read(CHUNK)
    if not head.startswith(b"\x7fELF"):
        return None
    glibc, data, tail = 0, head, b""
    while data:
        window = tail + data
        glibc = max([glibc, *(int(m) for m in _GLIBC.findall(window))])
        tail = window[-_GLIBC_OVERLAP:]
        data = stream.read(CHUNK)
    return head[:64], glibc


def _is_elf_candidate(name: str) -> bool:
    return name.startswith(f"{RUNTIME_TOP}/bin/") or name.endswith(".so") or ".so." in name


def _version(patchlevel: bytes) -> str:
    m = _PY_VERSION.search(patchlevel)
    if m is None:
        raise UsageError("--python-runtime: its patchlevel.h defines no PY_VERSION")
    return m[1].decode()


def _machine(elf: bytes, path: Path) -> str:
    little = elf[5:6] == b"\x01"
    (number,) = struct.unpack("<H" if little else ">H", elf[18:20])
    if number not in _MACHINES:
        raise _not_a_runtime(path, f"its executable is for ELF machine {number}, unknown here")
    return _MACHINES[number]


def _not_a_runtime(path: Path, why: str) -> UsageError:
    return UsageError(
        f"--python-runtime {path.name} is not a python-build-standalone install_only archive "
        f"for Linux: {why}"
    )


def _fragment_sha256(fragment: str) -> str | None:
    algorithm, _, digest = fragment.partition("=")
    return digest.lower() if algorithm == "sha256" and len(digest) == 64 else None


def _check_there(url: str, fetcher: Fetcher) -> None:
    """A runtime URL that does not answer 200 is named as such, whatever its digest file did."""
    try:
        status = fetcher.status(url)
    except FetchFailed as exc:
        raise FetchFailed(f"--python-runtime: {exc}; check the URL and the network") from exc
    if status != 200:
        raise FetchFailed(
            f"--python-runtime {redact(url)}: no runtime there (HTTP {status}); check the URL "
            "(python-build-standalone's release assets end in -install_only.tar.gz)"
        )


def _published_sha256(url: str, fetcher: Fetcher) -> str | None:
    """The digest in ``URL.sha256``; a URL with neither that nor ``#sha256=`` is refused, never
    taken unchecked (a local ``file:`` URL is the user's own file, as a path is)."""
    if urlsplit(url).scheme == "file":
        return None
    try:
        found = fetcher.read(url + ".sha256")
    except FetchFailed:  # the server itself may be unreachable: the runtime is what to name
        found = None
    fix = "add the runtime's digest to the URL as #sha256=DIGEST"
    if found is None:
        _check_there(url, fetcher)
        raise UsageError(
            f"--python-runtime {url}: no sha256 is published beside it ({url}.sha256 is not "
            f"there), so its bytes cannot be checked; {fix}"
        )
    words = found.text.split()
    if not words or not re.fullmatch(r"[0-9a-fA-F]{64}", words[0]):
        shown = found.text.strip()[:40] or "nothing"
        raise UsageError(
            f"--python-runtime {url}: {url}.sha256 holds no sha256 digest (it reads {shown!r}); "
            f"{fix}"
        )
    return words[0].lower()
