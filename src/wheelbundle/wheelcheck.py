"""Is a wheel what it says it is? Its RECORD must hash every member, its name match its metadata.

Also the one place that reads a wheel's METADATA for the others (licenses, dependencies).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from wheelbundle.errors import BundleError, VerifyFailed


def wheel_metadata(wheel: Path) -> Message:
    """A wheel's own METADATA (its one top-level ``*.dist-info/METADATA``), as headers."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            (name,) = (
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            return HeaderParser().parsestr(zf.read(name).decode())
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{wheel.name}: cannot read the wheel's METADATA ({exc})") from exc


def check_wheel(path: Path, label: str) -> None:
    """Raise VerifyFailed, naming ``label`` and the member, at the first thing that is off."""
    name, version, _, _ = parse_wheel_filename(path.name)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dist_info = f"{_dist_info_stem(names, label)}.dist-info"
            record = zf.read(f"{dist_info}/RECORD").decode()
            _check_record(zf, names, record, dist_info, label)
            meta = HeaderParser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError) as exc:
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
        digest = hashlib.new(algorithm, zf.read(member)).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != expected:
            raise VerifyFailed(f"{label}: {member} does not match the hash in its RECORD")
