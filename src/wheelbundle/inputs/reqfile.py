"""Requirements files, read once as pip reads them, for every module that needs what they say.

Continuation lines, comments, nested ``-r``/``-c`` files relative to the file naming them, and
the encodings pip accepts. The inputs are read into one :class:`RequirementFiles`, passed down to
the stages: the hashes they pin (``hashes``), the locations and credentials they name
(``credentials``), whether pip alone decides what is found (``find``), the resolution's cache
key (``memo``), and the requirements whose markers the server must agree with (``make``).
"""

from __future__ import annotations

import codecs
import locale
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.errors import UsageError

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
#: The options with a value that stand in the pip arguments the stages build.
_VALUED = (*_NESTED, "-e", "--editable", "--only-binary", "--no-binary")


def requirement_files(pip_args: Iterable[str]) -> list[Path]:
    """The files given as ``-r FILE`` in pip arguments."""
    args = list(pip_args)
    return [Path(args[i + 1]) for i, arg in enumerate(args[:-1]) if arg == "-r"]


def requirement_args(pip_args: Iterable[str]) -> list[str]:
    """The requirements among pip arguments: not an option, nor an option's value (``FILE``
    in ``-r FILE``, ``:all:`` in ``--only-binary :all:``)."""
    found, value_next = [], False
    for arg in pip_args:
        if not value_next and not arg.startswith("-"):
            found.append(arg)
        value_next = not value_next and arg in _VALUED
    return found


def asked_for(pip_args: Sequence[str], files: RequirementFiles) -> list[str]:
    """What pip is asked for by ``pip_args``: its requirement arguments, and where they name
    requirements files (``-r``), those files' requirement lines (``files``, read once; their
    constraints limit versions, they ask for nothing)."""
    lines = files.lines if requirement_files(pip_args) else ()
    asked = (line.requirement()[0] for line in lines if not line.constraint)
    return [*filter(None, asked), *requirement_args(pip_args)]


@dataclass(frozen=True)
class RequirementLine:
    """One logical line of a requirements file: comments removed, continuations joined."""

    file: Path
    number: int
    """The line number it starts on."""
    text: str
    constraint: bool = False
    """The line is in a constraints file (``-c``): it limits versions, it asks for nothing."""

    def requirement(self) -> tuple[str, list[str]]:
        """The requirement as written and the options after it (``--hash=…``); an option line
        (``-r``, ``--index-url``, ``-e``…) or an empty one has no requirement: ``""``."""
        words = self.text.split()
        if not words or words[0].startswith("-"):
            return "", words
        split = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        return " ".join(words[:split]), words[split:]


@dataclass(frozen=True)
class RequirementFiles:
    """Requirements files and every file they include, read."""

    files: tuple[Path, ...] = ()
    """The files given (``-r FILE``)."""
    lines: tuple[RequirementLine, ...] = ()
    """Every line of those files and of the files they include, in pip's order; an include
    line is itself one too."""

    def requirements(self) -> list[str]:
        """Each requirement line as written, without its options (``--hash``…)."""
        return [text for line in self.lines if (text := line.requirement()[0])]

    def line_holding(self, text: str) -> RequirementLine | None:
        """The first line holding ``text``: where a requirement pip quotes was written."""
        return next((line for line in self.lines if text in line.text), None)


def read_requirements(files: Iterable[Path]) -> RequirementFiles:
    """``files`` and the files they include, each read once."""
    seen: set[Path] = set()
    given = tuple(files)
    lines = tuple(line for file in given for line in _lines_of(file, seen, constraint=False))
    return RequirementFiles(files=given, lines=lines)


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
