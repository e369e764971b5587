"""The ``bundle`` command: parse arguments, call the library, print results and errors.

One module per command (``cli/make.py`` for ``bundle make``…), each adding its arguments and
running it; this one builds the parser from them and is the single place an exception becomes
an ``error: …`` line and an exit status. Only ``cli/`` prints: progress goes to stderr, so
stdout stays for results (the last line of ``bundle make`` is the archive's path).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from wheelbundle import __version__
from wheelbundle.cli import (
    audit,
    cache,
    completion,
    diff,
    index,
    inspect,
    make,
    merge,
    probe,
    publish,
    report,
    verify,
)
from wheelbundle.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    ConsoleReporter,
    Parser,
    Terminated,
    examples,
    indent,
    one_line,
)
from wheelbundle.cli.make import MAKE_EXAMPLES
from wheelbundle.completion import subcommands
from wheelbundle.errors import BuildFailed, BundleError, PipFailed, what_was_done
from wheelbundle.review.policy import PolicyViolation

__all__ = ["MAKE_EXAMPLES", "TOP_EXAMPLES", "ConsoleReporter", "build_parser", "main", "one_line"]

TOP_EXAMPLES = (
    ("bundle make requirements.txt", "writes dist/NAME-VERSION-TARGET.tar.gz"),
    ("bundle verify dist/myapp-1.0-cp311-none-any.tar.gz", "check it before it crosses"),
    ("bundle inspect dist/myapp-1.0-cp311-none-any.tar.gz", "what it holds"),
)


_TOP_EPILOG = f"""examples:
{examples(TOP_EXAMPLES)}
then on the server, with no network:
  tar xzf myapp-1.0-cp311-none-any.tar.gz && cd myapp-1.0 && ./install.sh /opt/myapp/venv

Run 'bundle COMMAND --help' for each command's options and examples;
eval "$(bundle completion bash)" completes them in bash.
exit status: 0 done, 1 failed, 2 usage error, 3 a bundle failed verification, 4 refused by
--policy, 130 interrupted, 143 terminated."""


#: Each command's module, in the order ``bundle --help`` lists them.
COMMANDS = (
    make,
    probe,
    verify,
    cache,
    index,
    publish,
    merge,
    inspect,
    diff,
    audit,
    report,
    completion,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bundle",
        description="Turn Python requirements into one archive that installs offline on a server.",
        epilog=_TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"wheelbundle {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    for command in COMMANDS:
        command.add(commands, parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), argv)
    with _errors(verbose=getattr(args, "verbose", False)) as status, _terminate_as_interrupt():
        status.append(args.run(args))
    return status[-1]


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Arguments no command knows are refused with that command's usage, not the top one's."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        subcommands(parser)[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`Terminated` and SIGINT raises
    KeyboardInterrupt (signals reach the main thread only, so a caller on another thread keeps
    its own handling).

    SIGINT is taken even when the parent left it ignored, as a shell does for a job started
    with ``&`` in a script: Python would then keep ignoring it, and a Ctrl-C sent to the
    process group would let a make run on and exit 0 with a bundle nobody wanted.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


@contextmanager
def _errors(verbose: bool) -> Iterator[list[int]]:
    """The single place an exception becomes an ``error:`` line and an exit code."""
    status: list[int] = []
    try:
        yield status
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"error: {how}; {what_was_done(exc) or 'nothing was written'}", file=sys.stderr)
        status.append(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED)
    except BrokenPipeError:  # `bundle inspect X | head -2`: the reader has what it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status.append(EXIT_BROKEN_PIPE)
    except OSError as exc:  # the machine's fault, not ours: full disk, no permission, …
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {one_line(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        status.append(EXIT_FAILURE)
    except BundleError as exc:
        for line in exc.lines if isinstance(exc, PolicyViolation) else ():
            print(f"policy: {one_line(line)}", file=sys.stderr)
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        if isinstance(exc, BuildFailed) or (isinstance(exc, PipFailed) and verbose):
            print(indent(exc.tail), file=sys.stderr)
        status.append(exc.exit_code)
