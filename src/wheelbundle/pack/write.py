"""Packing a bundle: its members laid out from the manifest, written as one deterministic archive.

The archive is written under a temporary name and renamed at the end.

Members are sorted, owned by 0:0 with no user names, dated by one fixed timestamp, and the gzip
header carries no file name or time, so the same inputs give the same archive.

Wheels are zip files, already compressed: gzip cannot shrink them but spends seconds trying. On
the 44-wheel web stack (88.5 MB of wheels, this 2-core machine) level 0 packs in 0.19 s for an
88.6 MB archive; level 1 takes 2.5 s for 86.6 MB, levels 6 and 9 the same. So the archive is a
valid .tar.gz of stored (level 0) deflate blocks: any gzip reads it.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wheelbundle.cache import atomic_file, naming, sweep_stale
from wheelbundle.errors import BundleError, UsageError
from wheelbundle.format.checksums import sha256sums
from wheelbundle.format.layout import (
    FORMATS,
    INSTALL_SH,
    MANIFEST,
    PAYLOAD,
    RUNTIMES_TXT,
    SBOM,
    SIGNATURE,
    SUMS,
    TARGETS_JSON,
    archive_name,
    epoch_of,
    pylock_name,
    runtime_member,
    runtimes_text,
    wheel_member,
)
from wheelbundle.format.manifest import Manifest, pip_wheel_of
from wheelbundle.format.pylock import pylock_text
from wheelbundle.format.sbom import sbom_json
from wheelbundle.format.sign import sign

GZIP_LEVEL = 0
#: Every bundle carries pip's wheel (about 1.8 MB): a disk with less free cannot take one.
SMALLEST_ARCHIVE = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file of the archive, relative to its top folder; from disk or from memory."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    executable: bool = False


def check_outdir(outdir: Path) -> None:
    """Raise before any work when ``outdir`` cannot take an archive: an unwritable or full folder
    found only when packing has cost the whole make, and named a hidden temporary file.

    Nothing is created: the nearest folder that exists is probed with a file that has no name
    (``O_TMPFILE`` where the kernel has it), so not even ``kill -9`` can leave the probe behind.
    """
    existing = outdir.absolute()
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    fix = "choose another -o OUTDIR"
    if existing.is_symlink() and not existing.exists():  # an unmounted share, a moved folder
        raise UsageError(
            f"-o {outdir}: {existing} links to {existing.readlink()}, which does not exist; {fix}"
        )
    if not existing.is_dir():
        raise UsageError(f"-o {outdir}: {existing} is not a folder; {fix}")
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0")
            probe.flush()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _full(outdir, 0, fix) from exc
        raise UsageError(
            f"-o {outdir}: cannot write there ({exc.strerror or exc}); {fix}, or make it writable"
        ) from exc
    disk = os.statvfs(existing)
    if (free := disk.f_bavail * disk.f_frsize) < SMALLEST_ARCHIVE:
        raise _full(outdir, free, fix)


def _full(outdir: Path, free: int, fix: str) -> BundleError:
    return BundleError(
        f"-o {outdir}: its disk has {free >> 10} kB free, and no bundle is smaller than "
        f"{SMALLEST_ARCHIVE >> 20} MB (pip's own wheel is in each); free some space, or {fix}"
    )


def write_bundle(
    outdir: Path,
    manifest: Manifest,
    wheels: Mapping[str, Path],
    sign_key: Path | None = None,
    runtimes: Mapping[str, Path] | None = None,
    archive_format: str = FORMATS[0],
) -> Path:
    """The bundle ``manifest`` describes, ``wheels`` its files by wheel name, in ``outdir``."""
    members = bundle_members(manifest, wheels, sign_key, runtimes)
    destination = outdir / archive_name(manifest, archive_format)
    return write_archive(destination, manifest.top, members, epoch_of(manifest))


def bundle_members(
    manifest: Manifest,
    wheels: Mapping[str, Path],
    sign_key: Path | None = None,
    runtimes: Mapping[str, Path] | None = None,
) -> list[Member]:
    """Every member of the bundle ``manifest`` describes: ``wheels`` its files by wheel name,
    ``runtimes`` its targets' Python runtimes by file name."""
    payload = resources.files("wheelbundle") / "payload"
    generated = {
        MANIFEST: manifest.to_yaml().encode(),
        SBOM: sbom_json(manifest).encode(),
        TARGETS_JSON: manifest.targets_json(pip_wheel_of(manifest.packages)).encode(),
        **{member: (payload / source).read_bytes() for member, source in PAYLOAD.items()},
    }
    for entry in manifest.targets:
        generated[entry.lock] = manifest.lock_text(entry).encode()
        generated[pylock_name(entry)] = pylock_text(manifest, entry).encode()
    carried = {t.runtime.file: t.runtime for t in manifest.targets if t.runtime is not None}
    if carried:
        generated[RUNTIMES_TXT] = runtimes_text(manifest).encode()
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in generated.items()}
    hashes.update({wheel_member(p.wheel): p.sha256 for p in manifest.packages})
    hashes.update({runtime_member(r.file): r.sha256 for r in carried.values()})
    members = [
        Member(name, data=data, executable=name == INSTALL_SH) for name, data in generated.items()
    ]
    members += [Member(wheel_member(path.name), path=path) for path in wheels.values()]
    members += [Member(runtime_member(f), path=(runtimes or {})[f]) for f in carried]
    sums = sha256sums(hashes).encode()
    members.append(Member(SUMS, data=sums))
    if sign_key is not None:
        members.append(Member(SIGNATURE, data=sign(sums, sign_key)))
    return members


def write_archive(
    destination: Path, top: str, members: Sequence[Member], mtime: int, level: int = GZIP_LEVEL
) -> Path:
    """Write ``destination`` atomically: either the whole archive appears, or nothing does."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(destination.parent, ".*.tar.gz.*.part")  # left by a make killed outright
    with (
        naming(destination),
        atomic_file(destination, 0o666 & ~_umask()) as raw,  # an archive is for sharing
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add_tree(tar, top, members, mtime)
    return destination


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _add_tree(tar: tarfile.TarFile, top: str, members: Sequence[Member], mtime: int) -> None:
    folders = {top}
    for member in members:
        parts = member.name.split("/")[:-1]
        folders.update(f"{top}/{'/'.join(parts[: i + 1])}" for i in range(len(parts)))
    entries: list[tuple[str, Member | None]] = [(f, None) for f in folders]
    entries += [(f"{top}/{m.name}", m) for m in members]
    for arcname, entry in sorted(entries, key=lambda e: e[0]):
        info = tarfile.TarInfo(arcname)
        info.mtime = mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if entry is None:
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
            continue
        info.mode = 0o755 if entry.executable else 0o644
        if entry.data is not None:
            info.size = len(entry.data)
            tar.addfile(info, io.BytesIO(entry.data))
        else:
            assert entry.path is not None
            info.size = entry.path.stat().st_size
            with entry.path.open("rb") as f:
                tar.addfile(info, f)
