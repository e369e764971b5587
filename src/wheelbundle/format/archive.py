"""Reading a bundle archive from anywhere, safely.

Nothing in an archive is trusted: a member that is absolute, climbs out with ``..``, is a link or
a device, is setuid or setgid, is listed twice or sits outside the one top folder makes the whole
archive refused.
Files are read as streams or copied one at a time into a folder the caller owns; nothing is ever
extracted by name into the file system.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from wheelbundle.cache import CHUNK
from wheelbundle.errors import VerifyFailed
from wheelbundle.format.members import PRIVILEGED

_TAR_END = 2 * tarfile.BLOCKSIZE
"""A tar archive ends with two zero blocks; an archive cut short lacks them."""
#: What a damaged compressed stream raises while it is read.
_DAMAGED = (OSError, EOFError, zlib.error, tarfile.TarError)


class BundleArchive:
    """A bundle's members by their path below the top folder (``wheels/x.whl``, ``install.sh``)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by __exit__)
            members = self._tar.getmembers()
            _check_whole(path, self._tar.offset)
        except _DAMAGED as exc:
            raise VerifyFailed(f"{path}: not a readable tar archive ({_reason(exc)})") from exc
        self.top, self.files = _check_structure(path, members)

    def __enter__(self) -> BundleArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tar.close()

    def read(self, name: str) -> bytes:
        """A member's bytes; VerifyFailed if the bundle lacks it."""
        with self.open(name) as stream:
            return stream.read()

    def text(self, name: str) -> str:
        """A member that must be UTF-8 text (the manifest, the locks, SHA256SUMS)."""
        try:
            return self.read(name).decode()
        except UnicodeDecodeError as exc:
            raise VerifyFailed(
                f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from exc

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def copy_to(self, name: str, folder: Path) -> Path:
        """Copy one member into ``folder`` under its base name; the caller owns the folder."""
        dest = folder / PurePosixPath(name).name
        with self.open(name) as stream, dest.open("wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        return dest

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """A member's stream; the compressed data failing under it is the member's failure."""
        stream = self._tar.extractfile(self._member(name))
        assert stream is not None  # regular files only, checked on open
        try:
            yield stream
        except _DAMAGED as exc:
            raise VerifyFailed(f"{name}: damaged in the archive ({_reason(exc)})") from exc

    def _member(self, name: str) -> tarfile.TarInfo:
        try:
            return self.files[name]
        except KeyError:
            raise VerifyFailed(f"{name}: missing from the bundle") from None


def _check_whole(path: Path, end_of_members: int) -> None:
    """The archive ends as it should: gzip's own length and CRC check out to its last byte, and
    the tar stream's end marker follows the last member. tarfile stops reading at the last
    member, so an archive cut short would pass here and fail in tar on the server."""
    length = 0
    with _decompressed(path) as stream:
        while chunk := stream.read(CHUNK):
            length += len(chunk)
    if length < end_of_members + _TAR_END:
        raise tarfile.ReadError("it ends before the tar end-of-archive marker: cut short?")


def _decompressed(path: Path) -> io.BufferedIOBase:
    """The archive's bytes as tarfile's "r:*" reads them, each compression with its own checks."""
    with path.open("rb") as raw:
        head = raw.read(6)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(path, "rb")
    return path.open("rb")


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_structure(
    path: Path, members: list[tarfile.TarInfo]
) -> tuple[str, dict[str, tarfile.TarInfo]]:
    if not members:
        raise VerifyFailed(f"{path}: the archive is empty")
    tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
    if len(tops) != 1:
        raise VerifyFailed(
            f"{path}: the archive must hold exactly one top folder, found {sorted(tops)}"
        )
    top = tops.pop()
    files: dict[str, tarfile.TarInfo] = {}
    seen: set[str] = set()
    for m in members:
        p = PurePosixPath(m.name)
        if m.name.startswith("/") or p.is_absolute() or ".." in p.parts or not p.parts:
            raise VerifyFailed(f"{m.name}: unsafe path in the archive")
        if m.name in seen or m.name.rstrip("/") in seen:
            raise VerifyFailed(f"{m.name}: listed twice in the archive")
        seen.add(m.name.rstrip("/"))
        if m.isdir():
            continue
        if not m.isfile():
            raise VerifyFailed(f"{m.name}: links and special files are not allowed in a bundle")
        if m.mode & PRIVILEGED:  # tar run by root would make it so on the server
            raise VerifyFailed(f"{m.name}: a setuid or setgid file is not allowed in a bundle")
        if len(p.parts) < 2:
            raise VerifyFailed(f"{m.name}: file outside the top folder")
        files[str(PurePosixPath(*p.parts[1:]))] = m
    return top, files
