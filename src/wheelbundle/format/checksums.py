"""SHA256SUMS: every member's digest in coreutils' format, so a reviewer checks a bundle with
``sha256sum -c`` and no wheelbundle."""

from __future__ import annotations

from collections.abc import Mapping

from wheelbundle.errors import VerifyFailed


def sha256sums(hashes: Mapping[str, str]) -> str:
    """coreutils ``sha256sum`` format, sorted by path, checkable with ``sha256sum -c``."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(hashes.items()))


def parse_sha256sums(text: str) -> dict[str, str]:
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or not path:
            raise VerifyFailed(f"SHA256SUMS line {number} is malformed: {line!r}")
        sums[path] = digest
    return sums
