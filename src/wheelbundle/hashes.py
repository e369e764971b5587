"""Hashes the user pinned in requirements files (pip-compile ``--generate-hashes``, ``uv export``).

pip checks them itself when it downloads a file, but a resolution from PEP 658 metadata may
never download the file at all, so the bytes that go into the bundle are checked again here.
This reads requirement files as pip does, as far as hashes go: continuation lines, comments,
nested ``-r``/``-c`` files relative to the file naming them, ``--hash=ALGO:HEX`` and
``--hash ALGO:HEX`` after a requirement. :func:`requirement_lines` is the one walk through
requirements files and the files they include, for every module that reads them.
"""

from __future__ import annotations

import codecs
import hashlib
import locale
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelbundle.cache import CHUNK
from wheelbundle.errors import HashMismatch, UsageError

_COMMENT = re.compile(r"(^|\s+)#.*$")
#: Byte order marks pip recognises, UTF-32 before UTF-16 (whose marks begin UTF-32's).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_CODING = re.compile(rb"coding[:=]\s*([-\w.]+)")
_CONSTRAINT = ("-c", "--constraint")
_NESTED = ("-r", "--requirement", *_CONSTRAINT)


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


def requirement_files(pip_args: Iterable[str]) -> list[Path]:
    """The files given as ``-r FILE`` in pip arguments."""
    args = list(pip_args)
    return [Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg == "-r"]


@dataclass(frozen=True)
class RequirementLine:
    """One logical line of a requirements file: comments removed, continuations joined."""

    file: Path
    number: int
    """The line number it starts on."""
    text: str
    constraint: bool = False
    """The line is in a constraints file (``-c``): it limits versions, it asks for nothing."""


def requirement_lines(files: Iterable[Path]) -> Iterator[RequirementLine]:
    """Every line of ``files`` and of the files they include (``-r``/``-c`` lines, relative to
    the file naming them), each file read once; an include line is itself yielded too."""
    seen: set[Path] = set()
    for file in files:
        yield from _lines_of(file, seen, constraint=False)


def _lines_of(file: Path, seen: set[Path], constraint: bool) -> Iterator[RequirementLine]:
    if file.resolve() in seen:
        return
    seen.add(file.resolve())
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"{file}: cannot read it ({exc.strerror})") from exc
    for number, line in _logical_lines(_decoded(data, file)):
        yield RequirementLine(file, number, line, constraint)
        if (nested := included_file(line)) is not None:
            is_constraint = constraint or line.split()[0].partition("=")[0] in _CONSTRAINT
            yield from _lines_of(file.parent / nested, seen, is_constraint)


def _decoded(data: bytes, file: Path) -> str:
    """A requirements file's text, decoded as pip decodes it: by its byte order mark, else by
    a PEP 263 coding comment in its first two lines, else as UTF-8, else in the locale's
    encoding. Anything else is not a requirements file: one error, never a traceback."""
    text = _decode(data, file)
    if "\0" in text:
        raise UsageError(f"{file}: holds NUL characters, so it is not a requirements file")
    return text


def _decode(data: bytes, file: Path) -> str:
    encoding, start = next(((e, len(bom)) for bom, e in _BOMS if data.startswith(bom)), ("", 0))
    for line in data.split(b"\n")[:2] if not encoding else ():
        if line.startswith(b"#") and (declared := _CODING.search(line)):
            encoding = declared[1].decode("ascii")
            break
    tried = [encoding] if encoding else ["utf-8", locale.getpreferredencoding(False)]
    for name in tried:
        try:
            return data[start:].decode(name)
        except (UnicodeDecodeError, LookupError) as exc:
            failure = exc
    raise UsageError(
        f"{file}: not text in {tried[0]} ({failure}); save it as UTF-8, or name its encoding "
        "in a first line such as '# -*- coding: latin-1 -*-'"
    ) from failure


def include_target(line: str) -> str | None:
    """What an include line (``-r FILE``, ``--constraint=URL``…) names; None for other lines."""
    tokens = line.split()
    if not tokens:
        return None
    if tokens[0] in _NESTED:
        return tokens[1] if len(tokens) > 1 else None
    if tokens[0].startswith(tuple(f"{o}=" for o in _NESTED)):
        return tokens[0].partition("=")[2] or None
    return None


def included_file(line: str) -> str | None:
    """The file an include line names; None for any other line, and for an include of a URL,
    which is not read here."""
    target = include_target(line)
    return target if target and "://" not in target else None


def given_hashes(files: Iterable[Path]) -> dict[str, GivenHashes]:
    """Every hash pinned in ``files`` and the files they include, by canonical project name.

    As in pip's hash-checking mode, one hash makes them required on every requirement (not on
    constraints): a requirement without one is an error naming its line, never left out.
    """
    found: dict[str, GivenHashes] = {}
    unhashed: RequirementLine | None = None
    for line in requirement_lines(files):
        tokens = line.text.split()
        if not tokens or tokens[0].startswith("-"):
            continue  # an option line (-r, --index-url, -e, --find-links…): no hash belongs to it
        split = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
        hashes = _hash_options(tokens[split:], line.file, line.number)
        if not hashes:
            unhashed = unhashed or (None if line.constraint else line)
            continue
        text = " ".join(tokens[:split])
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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with comments removed and ``\\`` continuations joined, numbered by their first line."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        lines.append((start, _COMMENT.sub("", " ".join(pending)).strip()))
        pending = []
    if pending:
        lines.append((start, _COMMENT.sub("", " ".join(pending)).strip()))
    return lines


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
