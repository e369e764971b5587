"""Reading a bundle archive from anywhere, safely.

Nothing in an archive is trusted: a member that is absolute, climbs out with ``..``, is a link or
a device, is listed twice or sits outside the one top folder makes the whole archive refused.
Files are read as streams or copied one at a time into a folder the caller owns; nothing is ever
extracted by name into the file system.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from wheelbundle.errors import VerifyFailed

CHUNK = 1 << 20


class BundleArchive:
    """A bundle's members by their path below the top folder (``wheels/x.whl``, ``install.sh``)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 (closed by __exit__)
            members = self._tar.getmembers()
        except (OSError, tarfile.TarError, EOFError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise VerifyFailed(f"{path}: not a readable tar archive ({reason})") from exc
        self.top, self.files = _check_structure(path, members)

    def __enter__(self) -> BundleArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tar.close()

    def read(self, name: str) -> bytes:
        """A member's bytes; VerifyFailed if the bundle lacks it."""
        stream = self._tar.extractfile(self._member(name))
        assert stream is not None  # regular files only, checked on open
        return stream.read()

    def sha256(self, name: str) -> str:
        stream = self._tar.extractfile(self._member(name))
        assert stream is not None
        digest = hashlib.sha256()
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def copy_to(self, name: str, folder: Path) -> Path:
        """Copy one member into ``folder`` under its base name; the caller owns the folder."""
        stream = self._tar.extractfile(self._member(name))
        assert stream is not None
        dest = folder / PurePosixPath(name).name
        with dest.open("wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        return dest

    def _member(self, name: str) -> tarfile.TarInfo:
        try:
            return self.files[name]
        except KeyError:
            raise VerifyFailed(f"{name}: missing from the bundle") from None


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
        if len(p.parts) < 2:
            raise VerifyFailed(f"{m.name}: file outside the top folder")
        files[str(PurePosixPath(*p.parts[1:]))] = m
    return top, files
