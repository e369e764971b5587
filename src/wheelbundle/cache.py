"""A content-addressed store of downloaded and built files, shared by every ``bundle make``.

Files live under their sha256, so a file is fetched or built once per machine. Every write goes
to a temporary name in the same folder and is renamed into place, so two runs at once never see
a half-written file and never need a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from wheelbundle.errors import UsageError

CHUNK = 1 << 20
STALE_SECONDS = 3600
"""Where files cannot be locked: a temporary file left untouched this long belongs to a run that
was killed outright."""
SETTLING_SECONDS = 10
"""A temporary file this new may not be locked yet by the run that just made it."""
_KINDS = {
    "downloads": "files",
    "builds": "builds",
    "repairs": "repairs",
    "resolutions": "resolutions",
}
_UNFINISHED = "incoming"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wheelbundle"


def content_key(*parts: str) -> str:
    """The name a cached thing is kept under: the sha256 of what decides its content, each part
    apart from the next (a NUL between them, which no part holds)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError met while writing ``path`` names it: "No space left on device" alone does not
    say which disk filled up."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


@contextmanager
def atomic_file(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A file that appears at ``path`` whole or not at all, with ``mode`` as its permission bits.

    Where Linux allows it, it is written as a file with no name (``O_TMPFILE``), which nothing,
    not even ``kill -9`` in the midst of a long write, can leave behind; once whole it is linked
    beside ``path`` and renamed over it. Elsewhere it is written under a temporary name beside
    it (``.NAME.XXXXXXXX.part``, locked while written, so that :func:`sweep_stale` can tell a
    killed run's from a live one's). A block that fails leaves nothing either way.
    """
    fd = _nameless(path.parent, mode)
    if fd is None:
        with _named(path, mode) as out:
            yield out
        return
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:
            yield out
        tmp = _linked(fd, path)
        try:
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        os.close(fd)


def _linked(fd: int, path: Path) -> Path:
    """The nameless file ``fd``, given a temporary name beside ``path`` (link(2) never replaces
    a file: a name another process took meanwhile is passed over)."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        while True:
            name = f".{path.name}.{secrets.token_hex(4)}.part"
            try:  # a directory fd makes this linkat(2), which can follow /proc's link
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder, follow_symlinks=True)
            except FileExistsError:
                continue
            return path.parent / name
    finally:
        os.close(folder)


def _nameless(folder: Path, mode: int) -> int | None:
    """A file with no name in ``folder``, open for writing; None where there can be none, or
    where it could not be given one afterwards (no ``/proc`` to link it through)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:  # a file system without it (some network ones), or an old kernel
        return None
    if not Path(f"/proc/self/fd/{fd}").exists():
        os.close(fd)
        return None
    os.fchmod(fd, mode)
    return fd


@contextmanager
def _named(path: Path, mode: int) -> Iterator[BinaryIO]:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with holding(tmp):
            Path(tmp).chmod(mode)
            with os.fdopen(fd, "wb") as out:
                yield out
            Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def holding(path: str | Path) -> Iterator[None]:
    """An exclusive lock on the temporary file ``path`` for the block. The kernel drops it with
    the process, however it ends (``kill -9`` included), so :func:`sweep_stale` can tell a file
    a live run is writing from one a dead run left."""
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # no locks on this file system: the idle rule holds
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def sweep_stale(folder: Path, pattern: str) -> None:
    """Remove the temporary files (``pattern``) in ``folder`` that a killed run left behind: at
    once when no live process holds its lock, never one a concurrent run is writing."""
    now = time.time()
    for leftover in folder.glob(pattern):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if _abandoned(leftover, now):
                leftover.unlink()


def _abandoned(path: Path, now: float) -> bool:
    idle = now - path.stat().st_mtime
    if idle < SETTLING_SECONDS:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live run holds it
    except OSError:
        return idle > STALE_SECONDS
    finally:
        os.close(fd)
    return True


class Cache:
    """``files/<sha256>/<filename>`` for every file, ``builds/<key>/`` for built wheels,
    ``repairs/<key>/`` for built wheels as auditwheel repaired them."""

    def __init__(self, root: Path):
        self.root = root

    def file(self, sha256: str, filename: str) -> Path | None:
        """The cached file with this hash, if present and whole.

        Its bytes are checked on every hit: a file damaged on disk since (a flipped bit, a
        truncated copy, a hand edit) is removed, to be fetched again, and never packed.
        """
        path = self.root / "files" / sha256[:2] / sha256 / filename
        if not path.is_file():
            return None
        if sha256_file(path) != sha256:
            path.unlink(missing_ok=True)
            return None
        return path

    def add_file(self, source: Path, sha256: str) -> Path:
        """Copy a file whose hash is known into the store (atomically); return its place."""
        with self.incoming() as (out, tmp):
            with source.open("rb") as f, naming(tmp):
                shutil.copyfileobj(f, out, CHUNK)
                out.close()
            return self.adopt(tmp, sha256, source.name)

    @contextmanager
    def incoming(self) -> Iterator[tuple[BinaryIO, Path]]:
        """A temporary file inside the store, removed unless adopted."""
        folder = self.root / _UNFINISHED
        folder.mkdir(parents=True, exist_ok=True)
        sweep_stale(folder, "*.part")
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with holding(tmp), os.fdopen(fd, "wb") as out:
                yield out, Path(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def adopt(self, tmp: Path, sha256: str, filename: str) -> Path:
        """Rename a complete temporary file to its content address."""
        folder = self.root / "files" / sha256[:2] / sha256
        folder.mkdir(parents=True, exist_ok=True)
        tmp.replace(folder / filename)
        return folder / filename

    def resolution(self, key: str) -> Path:
        """Where pip's report for a resolution key is kept (see ``memo``)."""
        return self.root / "resolutions" / key[:2] / f"{key}.json"

    def locked_requirements(self, text: str) -> Path:
        """A lock's selection for one target as a hash-pinned requirements file, for pip to
        find what the lock's pages could not settle; named by its content, so a second run
        asks pip the very same question (and the kept resolution answers it)."""
        path = self.root / "resolutions" / "locked" / f"{content_key(text)}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(path) as out:
                out.write(text.encode())
        return path

    def usage(self) -> dict[str, tuple[int, int]]:
        """Files and bytes held per kind: downloads, builds, resolutions, and unfinished ones
        (downloads under way, or left by a run that was killed)."""
        usage = {}
        for kind, folder in {**_KINDS, "unfinished": _UNFINISHED}.items():
            found = [p for p in (self.root / folder).rglob("*") if p.is_file()]
            usage[kind] = (len(found), sum(p.stat().st_size for p in found))
        return usage

    def clean(self) -> None:
        """Remove everything; a run going on at the same time simply fetches again.

        Only a folder that holds nothing but a cache's own folders is removed: ``--cache-dir``
        with a typo (``~``, ``.``) must not empty a home or a project.
        """
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise UsageError(f"{self.root} is not a wheelbundle cache folder; nothing was removed")
        ours = {*_KINDS.values(), _UNFINISHED}
        if foreign := sorted(p.name for p in self.root.iterdir() if p.name not in ours):
            raise UsageError(
                f"{self.root} is not a wheelbundle cache: it holds {', '.join(foreign[:3])}, "
                "which no cache has; nothing was removed"
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def build_dir(self, key: str) -> Path:
        """Folder holding the wheel built for a build key (see ``build.build_key``)."""
        return self.root / "builds" / key[:2] / key

    def repair_dir(self, key: str) -> Path:
        """Folder holding a built wheel as auditwheel repaired it (see ``repair.repair``)."""
        return self.root / "repairs" / key[:2] / key


@contextmanager
def scratch_cache() -> Iterator[Cache]:
    """A throw-away cache for ``--no-cache``."""
    with tempfile.TemporaryDirectory(prefix="wheelbundle-nocache-") as tmp:
        yield Cache(Path(tmp))
