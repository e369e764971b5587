"""Hashes the user pinned in requirements files (pip-compile ``--generate-hashes``, ``uv export``).

pip checks them itself when it downloads a file, but a resolution from PEP 658 metadata may
never download the file at all, so the bytes that go into the bundle are checked again here.
``--hash=ALGO:HEX`` and ``--hash ALGO:HEX`` after a requirement are read as pip reads them, from
the lines ``reqfile`` read.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelbundle.cache import CHUNK
from wheelbundle.errors import HashMismatch, UsageError
from wheelbundle.inputs.reqfile import RequirementFiles, RequirementLine


@dataclass(frozen=True)
class GivenHashes:
    """The hashes a requirements file allows for one project."""

    name: str
    hashes: frozenset[tuple[str, str]]
    """``(algorithm, hex digest)`` pairs; a file matching any one of them is accepted."""
    where: str
    """``FILE line N``, for error messages."""
    requirement: str = ""
    """The requirement the hashes follow (``name[extra]==1.0 ; marker``), as written."""
    repeated: bool = False
    """The project has several lines (markers choosing versions): ``requirement`` is the first."""


def given_hashes(requirements: RequirementFiles) -> dict[str, GivenHashes]:
    """Every hash pinned in requirements files and the files they include, by project name.

    As in pip's hash-checking mode, one hash makes them required on every requirement (not on
    constraints): a requirement without one is an error naming its line, never left out.
    """
    found: dict[str, GivenHashes] = {}
    unhashed: RequirementLine | None = None
    for line in requirements.lines:
        text, options = line.requirement()
        if not text:
            continue  # an option line (-r, --index-url, -e, --find-links…): no hash belongs to it
        hashes = _hash_options(options, line.file, line.number)
        if not hashes:
            unhashed = unhashed or (None if line.constraint else line)
            continue
        try:
            name = canonicalize_name(Requirement(text).name)
        except InvalidRequirement:
            continue  # a path or URL without a name: pip checks its hash itself
        where = f"{line.file} line {line.number}"
        previous = found.get(name)
        if previous is not None:
            hashes |= previous.hashes
            where = previous.where
        first = previous.requirement if previous else text
        found[name] = GivenHashes(name, frozenset(hashes), where, first, previous is not None)
    if found and unhashed is not None:
        raise UsageError(
            f"{unhashed.file} line {unhashed.number}: {unhashed.text!r} has no --hash, but other "
            "requirements do, and then every one needs its hashes (pip's hash-checking mode); "
            "add them (pip hash, or regenerate with pip-compile --generate-hashes or uv export)"
        )
    return found


def _hash_options(tokens: list[str], file: Path, number: int) -> set[tuple[str, str]]:
    try:
        words = shlex.split(" ".join(tokens))
    except ValueError as exc:
        raise UsageError(f"{file} line {number}: cannot read its options ({exc})") from exc
    values = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
    values += [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--hash"]
    pairs = set()
    for value in values:
        algorithm, sep, digest = value.partition(":")
        if not sep or algorithm not in hashlib.algorithms_guaranteed or not digest:
            raise UsageError(
                f"{file} line {number}: --hash={value} is not ALGORITHM:HEX (e.g. sha256:…)"
            )
        pairs.add((algorithm, digest.lower()))
    return pairs


def check_file(path: Path, label: str, given: GivenHashes) -> None:
    """Raise HashMismatch unless ``path``'s bytes match one of the hashes given for it."""
    digests = {algorithm: hashlib.new(algorithm) for algorithm, _ in given.hashes}
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    actual = {algorithm: d.hexdigest() for algorithm, d in digests.items()}
    if any(actual[algorithm] == hex_ for algorithm, hex_ in given.hashes):
        return
    expected = ", ".join(sorted(f"{a}:{h}" for a, h in given.hashes))
    got = ", ".join(f"{a}:{h}" for a, h in sorted(actual.items()))
    raise HashMismatch(
        f"{label}: {path.name} does not match the hash in {given.where}: "
        f"expected {expected}, got {got}; if the package was updated, update the hashes, "
        "otherwise the file may have been tampered with"
    )


def check_files(files: Iterable[tuple[str, str, Path]], given: Mapping[str, GivenHashes]) -> None:
    """Check each ``(name, label, file)`` that has hashes given for its name."""
    for name, label, path in sorted(files):
        if name in given:
            check_file(path, label, given[name])
