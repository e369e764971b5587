"""What every command shares: exit statuses, progress on the console, the parser's kind, the
options several commands take, and one-line messages."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelbundle.inputs.options import Option, make_option
from wheelbundle.progress import Bar, Silent

if TYPE_CHECKING:
    from tqdm import tqdm


EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for any program whose reader went away (``| head``)."""


def examples(examples: Sequence[tuple[str, str]]) -> str:
    width = max(len(command) for command, _ in examples)
    return "\n".join(f"  {command:<{width}}  # {what}" for command, what in examples)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, ``timeout``, a service stopped), unwound as Ctrl-C is: every
    ``finally`` runs, so no temporary file or half-written archive stays behind."""


class ConsoleReporter:
    """Progress on stderr: tqdm bars on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()  # targets resolve side by side: one line at a time

    def stage(self, message: str) -> None:
        if not self.quiet:
            self._line(f"{message}…")

    def warn(self, message: str) -> None:
        self._line(f"warning: {message}")

    def _line(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(f"{text}\n")
            sys.stderr.flush()

    def bar(self, description: str, total: int | None, unit: str) -> Bar:
        if self.quiet or not self.tty:
            return Silent().bar(description, total, unit)
        from tqdm import tqdm  # here: importing it is a tenth of a rebuild's time

        counting = "{desc}: {n_fmt} {unit}{postfix} [{elapsed}]"  # no total, so no rate or bar
        return _TqdmBar(
            tqdm(
                total=total,
                desc=description,
                unit=unit,
                file=sys.stderr,
                leave=False,
                bar_format=counting if total is None else None,
            )
        )


class _TqdmBar:
    def __init__(self, bar: tqdm):  # type: ignore[type-arg]
        self._bar = bar

    def advance(self, amount: int) -> None:
        self._bar.update(amount)

    def note(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        self._bar.close()


class Parser(argparse.ArgumentParser):
    """No abbreviations: uv's ``--python 3.12`` must not silently become ``--python-runtime``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def add_verbosity(sub: argparse.ArgumentParser, runs_pip: bool = False) -> None:
    group = sub.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show pip's own output"
        if runs_pip
        else "accepted as for make; this command runs no pip",
    )


def add_osv_max_age(parser: argparse.ArgumentParser) -> None:
    """``--osv-max-age``, as ``bundle make`` declares it, for the other commands that read OSV."""
    add_option(parser, make_option("osv_max_age"))


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """An option of the table (``inputs.options.MAKE_OPTIONS``) as the parser's argument."""
    kind = option.kind
    kwargs: dict[str, Any] = {"help": option.help}
    if option.flags:
        kwargs["dest"] = option.field
    if option.metavar:
        kwargs["metavar"] = option.metavar
    elif option.flags and kind not in ("flag", "no-flag", "choice"):  # the flag's name
        kwargs["metavar"] = option.flags[-1].lstrip("-").upper().replace("-", "_")
    if kind == "flag":
        kwargs.update(action="store_true")
    elif kind == "no-flag":
        kwargs.update(action="store_false", default=None)
    elif kind == "inputs":
        kwargs.update(nargs="*")
    elif kind in ("texts", "targets", "links", "pythons"):
        kwargs.update(action="append", default=[])
    if kind == "pythons" or kind == "path":
        kwargs["type"] = Path
    elif kind == "count":
        kwargs["type"] = positive
    if option.choices:
        kwargs["choices"] = list(option.choices)
    parser.add_argument(*option.flags or (option.field,), **kwargs)


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return number


def one_line(message: str) -> str:
    """``message`` with every control character escaped: names taken from an archive or a file
    (a member called ``a\\nerror: …``) can neither break the line nor forge another."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def indent(text: str) -> str:
    return "\n".join(f"  | {line}" for line in text.splitlines())


if TYPE_CHECKING:  # argparse's action is generic only to the type checker
    Commands = argparse._SubParsersAction[Parser]
    """Where a command's module adds its parser (``add(commands, top)``)."""
