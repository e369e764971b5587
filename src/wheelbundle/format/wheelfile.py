"""A wheel read as the zip it is, never beyond what a real file could be: the bounds that stop a
zip bomb before it inflates, and the one reader of a wheel's METADATA (licenses, dependencies,
the pages of an index)."""

from __future__ import annotations

import zipfile
import zlib
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from wheelbundle.errors import BundleError, VerifyFailed

#: How much larger than its compressed bytes a member may say it is. Text and code compress
#: ten- to twentyfold, but a shared library padded with zeros far more (Pillow 13's libXau:
#: 223 times); deflate cannot exceed 1032 times, which is what a zip bomb of zeros reaches.
#: Beyond this a member is refused before a byte of it is inflated.
MAX_RATIO = 1000
#: A member this large may compress only this much: what would fill a server's disk from a
#: few megabytes is a bomb even below MAX_RATIO (real members this size are libraries and
#: data, which compress a few times at most).
LARGE, LARGE_RATIO = 1 << 30, 50
_SMALL = 1 << 20
"""Members up to this size are not held to the ratio: tiny files of repeats are ordinary."""


def wheel_metadata(wheel: Path) -> Message:
    """A wheel's own METADATA (its one top-level ``*.dist-info/METADATA``), as headers."""
    try:
        return HeaderParser().parsestr(metadata_bytes(wheel).decode())
    except UnicodeDecodeError as exc:
        raise BundleError(f"{wheel.name}: cannot read the wheel's METADATA ({exc})") from exc


def metadata_bytes(wheel: Path) -> bytes:
    """A wheel's own METADATA file as it is (what a PEP 658 index serves beside the wheel)."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            (name,) = (
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            return zf.read(inflatable(zf.getinfo(name), wheel.name))
    except (zipfile.BadZipFile, OSError, ValueError, zlib.error) as exc:
        raise BundleError(f"{wheel.name}: cannot read the wheel's METADATA ({exc})") from exc


def inflatable(info: zipfile.ZipInfo, label: str) -> zipfile.ZipInfo:
    """``info``, unless it would inflate far beyond any real file: a zip bomb."""
    ratio = MAX_RATIO if info.file_size <= LARGE else LARGE_RATIO
    if info.file_size > _SMALL and info.file_size > ratio * max(info.compress_size, 1):
        raise VerifyFailed(
            f"{label}: {info.filename} would inflate {info.compress_size} bytes to "
            f"{info.file_size} (more than {ratio} times): a zip bomb, not a wheel"
        )
    return info
