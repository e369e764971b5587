"""What a tar member from across the gap may be, decided before a byte of it is written.

A Python runtime a bundle carries came from somewhere: a member that climbs out, is absolute,
links outside, is a device or a FIFO, carries a setuid bit or is larger than any real file would
be, is refused with its name. (A base bundle is never unpacked: its wheels are read by exact
name, each bounded by its size and hash.) ``install.sh``
holds runtimes to the same rules on the server (``check_runtime_members``), with sh and awk,
because the server it serves may have no Python at all.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Container, Iterator
from typing import IO

#: No file of a runtime comes near this (libpython is tens of megabytes); a member larger is a
#: disk-filler, refused before it is read.
MAX_MEMBER = 1 << 30
#: All a runtime's files together, unpacked (python-build-standalone's are 100-200 MB).
MAX_TOTAL = 4 << 30
#: The one top folder of a python-build-standalone ``install_only`` archive.
RUNTIME_TOP = "python"
#: setuid and setgid: a file unpacked by root on the server would keep them.
PRIVILEGED = 0o6000


def refusal(member: tarfile.TarInfo, top: str, files: set[str]) -> str | None:
    """Why ``member`` may not be unpacked below ``top`` (a folder name), or None.

    Directories, regular files, symlinks whose target, read as a path, stays inside ``top``
    and hardlinks to a regular file listed before it (``files``, those seen so far) are
    allowed; nothing else. That no path runs through a symlink is :func:`checked`'s to say.
    """
    name = member.name
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\x00" in name:
        return "an absolute or unusual path"
    if ".." in parts:
        return "a path that climbs out with .."
    if parts[0] != top:
        return f"outside {top}/"
    if member.mode & PRIVILEGED:
        return "a setuid or setgid file"
    if member.size > MAX_MEMBER:
        return f"{member.size} bytes, more than any real file ({MAX_MEMBER} at most)"
    if member.isdir() or member.isfile():
        return None
    if member.issym():
        if member.linkname.startswith("/"):
            return f"a symlink to an absolute path ({member.linkname})"
        if _link_path(member).split("/")[0] != top:
            return f"a symlink that leaves {top}/ ({member.linkname})"
        return None
    if member.islnk():
        if member.linkname not in files:
            return f"a hardlink to {member.linkname}, which is not a file before it in {top}/"
        return None
    return "a device, FIFO or other special file"


def checked(tar: tarfile.TarFile, top: str, label: str) -> Iterator[tarfile.TarInfo]:
    """Each member of ``tar`` in turn, once it passed :func:`refusal`; ValueError names the
    first that does not (``label`` says which archive), or the archive when it is too large in
    all, lists a name twice, or has a path (a member's, or a symlink's target) that runs
    through a symlink. Read as paths, symlink targets then resolve as the kernel resolves them.
    """
    files: set[str] = set()
    names: set[str] = set()
    links: dict[str, str] = {}
    """Each symlink's target as it is joined to its folder, ``..`` kept."""
    total = 0
    for member in tar:
        why = refusal(member, top, files)
        total += member.size
        if why is None and total > MAX_TOTAL:
            why = f"past {MAX_TOTAL} bytes unpacked, more than any real runtime"
        if why is None and member.name.rstrip("/") in names:
            why = "listed twice"
        if why is not None:
            raise ValueError(f"{label}: member {member.name!r} is {why}")
        names.add(member.name.rstrip("/"))
        if member.isfile():
            files.add(member.name)
        elif member.issym():
            links[member.name] = _joined(member)
        yield member
    for name in sorted(names):
        if through := _through_link(name, links):
            raise ValueError(f"{label}: member {name!r} is below the symlink {through!r}")
    for name, path in sorted(links.items()):
        if through := _through_link(path, links):
            raise ValueError(
                f"{label}: member {name!r} is a symlink through the symlink {through!r}"
            )


def _link_path(member: tarfile.TarInfo) -> str:
    """A symlink's target as a path from the archive's root, read lexically."""
    return posixpath.normpath(_joined(member))


def _joined(member: tarfile.TarInfo) -> str:
    return posixpath.join(posixpath.dirname(member.name), member.linkname)


def _through_link(path: str, links: Container[str]) -> str | None:
    """The first symlink that ``path`` (from the archive's root, ``..`` and all) goes into or
    up out of before its end; None when it runs through none."""
    stack: list[str] = []
    for part in (p for p in path.split("/") if p not in ("", ".")):
        here = "/".join(stack)
        if here in links:
            return here
        if part == "..":
            if stack:
                stack.pop()
        else:
            stack.append(part)
    return None


def check_stream(stream: IO[bytes], top: str, label: str) -> None:
    """Every member of the tar.gz read from ``stream``, checked as :func:`checked` does."""
    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
        for _ in checked(tar, top, label):
            pass
