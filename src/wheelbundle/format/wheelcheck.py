"""Is a wheel what it says it is? Its RECORD must hash every member, its name match its metadata."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
import zipfile
import zlib
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from wheelbundle.cache import CHUNK
from wheelbundle.errors import VerifyFailed
from wheelbundle.format.wheelfile import inflatable


def kept_wheel(folder: Path, label: str) -> Path | None:
    """The one wheel a cache folder keeps (a build, a repair), checked on every use as a
    download is: one damaged on disk since (a flipped bit, a copy cut short) is removed with its
    folder, to be made again, and never packed."""
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if len(wheels) == 1:
        try:
            check_wheel(wheels[0], label)
        except (VerifyFailed, ValueError):  # ValueError: a file name that is no wheel's
            pass
        else:
            return wheels[0]
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    return None


def check_wheel(path: Path, label: str) -> None:
    """Raise VerifyFailed, naming ``label`` and the member, at the first thing that is off."""
    name, version, _, _ = parse_wheel_filename(path.name)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dist_info = f"{_dist_info_stem(names, label)}.dist-info"
            record = zf.read(inflatable(zf.getinfo(f"{dist_info}/RECORD"), label)).decode()
            _check_record(zf, names, record, dist_info, label)
            metadata = inflatable(zf.getinfo(f"{dist_info}/METADATA"), label)
            meta = HeaderParser().parsestr(zf.read(metadata).decode())
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError, zlib.error) as exc:
        raise VerifyFailed(f"{label}: not a valid wheel ({exc})") from exc
    if (
        canonicalize_name(meta.get("Name", "")) != name
        or Version(meta.get("Version", "0")) != version
    ):
        raise VerifyFailed(
            f"{label}: its file name says {name} {version} but its metadata says "
            f"{meta.get('Name')} {meta.get('Version')}"
        )


def _dist_info_stem(names: list[str], label: str) -> str:
    stems = {
        n.split("/", 1)[0][: -len(".dist-info")]
        for n in names
        if n.split("/", 1)[0].endswith(".dist-info")
    }
    if len(stems) != 1:
        raise VerifyFailed(f"{label}: a wheel must have exactly one .dist-info folder")
    return stems.pop()


def _check_record(
    zf: zipfile.ZipFile, names: list[str], record: str, dist_info: str, label: str
) -> None:
    listed: dict[str, str] = {}
    for row in csv.reader(io.StringIO(record)):
        if row:
            listed[row[0]] = row[1] if len(row) > 1 else ""
    unsigned = {f"{dist_info}/RECORD", f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for member in names:
        if member.endswith("/"):
            continue
        p = PurePosixPath(member)
        if p.is_absolute() or ".." in p.parts:
            raise VerifyFailed(f"{label}: unsafe path {member} inside the wheel")
        if member in unsigned:
            continue
        if member not in listed:
            raise VerifyFailed(f"{label}: {member} is not listed in its RECORD")
        algorithm, _, expected = listed[member].partition("=")
        if algorithm not in hashlib.algorithms_guaranteed or algorithm in ("md5", "sha1"):
            raise VerifyFailed(f"{label}: RECORD has no acceptable hash for {member}")
        digest = _digest(zf, zf.getinfo(member), algorithm, label)
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != expected:
            raise VerifyFailed(f"{label}: {member} does not match the hash in its RECORD")


def _digest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, algorithm: str, label: str) -> bytes:
    """A member's hash, read in chunks (memory stays flat whatever its size), bombs refused."""
    inflatable(info, label)
    digest = hashlib.new(algorithm)
    with zf.open(info) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.digest()
