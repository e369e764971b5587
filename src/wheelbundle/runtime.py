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

import re
import struct
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from wheelbundle.cache import sha256_file
from wheelbundle.errors import FetchFailed, UsageError
from wheelbundle.fetch import Download, Fetcher
from wheelbundle.manifest import Manifest, Runtime
from wheelbundle.target import Target, parse_target

TOP = "python/"
#: ELF ``e_machine`` values of the architectures python-build-standalone builds, by uname -m.
_MACHINES = {62: "x86_64", 183: "aarch64", 3: "i686", 40: "armv7l", 21: "ppc64le", 22: "s390x"}
_PY_VERSION = re.compile(rb'#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)[^"]*"')
_GLIBC = re.compile(rb"GLIBC_2\.(\d+)\x00")
_PATCHLEVEL = re.compile(r"^python/include/python3\.\d+t?/patchlevel\.h$")
_EXECUTABLE = re.compile(r"^python/bin/python3\.\d+t?$")
#: The oldest glibc a manylinux tag names for these architectures (PEP 600: manylinux2014).
_LOWEST_GLIBC = 17


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
    file python-build-standalone publishes beside each asset, when the server has it.
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


def read_runtime(path: Path, source: str) -> Runtime:
    """What the archive at ``path`` is, read from its files; UsageError when it is not one."""
    version: str | None = None
    machine: str | None = None
    glibc = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not (member.name + "/").startswith(TOP):
                    raise _not_a_runtime(path, f"{member.name} is outside python/")
                if not member.isfile():
                    continue
                if _PATCHLEVEL.match(member.name):
                    version = _version(_read(tar, member))
                elif _is_elf_candidate(member.name):
                    data = _read(tar, member)
                    if not data.startswith(b"\x7fELF"):
                        continue
                    glibc = max([glibc, *(int(m) for m in _GLIBC.findall(data))])
                    if _EXECUTABLE.match(member.name):
                        machine = _machine(data, path)
            size = path.stat().st_size
    except (tarfile.TarError, OSError, EOFError) as exc:
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


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    assert f is not None  # a regular file
    return f.read()


def _is_elf_candidate(name: str) -> bool:
    return name.startswith(f"{TOP}bin/") or name.endswith(".so") or ".so." in name


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


def _published_sha256(url: str, fetcher: Fetcher) -> str | None:
    if urlsplit(url).scheme == "file":
        return None
    found = fetcher.read(url + ".sha256")
    if found is None:
        return None
    words = found.text.split()
    return words[0].lower() if words and len(words[0]) == 64 else None
