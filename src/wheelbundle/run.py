"""The one place an outside program runs: pip, auditwheel, ssh-keygen, the interpreters asked
what they are.

Every run has a deadline, after which the program is killed and :class:`TimedOut` raised; every
running program is known, so that an interrupted command (Ctrl-C, SIGTERM, a failure on another
thread) ends them all at once (:func:`stop_all`) instead of waiting for each. What a program said
is kept whole for the caller, which turns a failure into its own exception with the program's
last words.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.errors import BundleError


class TimedOut(BundleError):
    """A program gave no answer within its deadline, and was ended."""


@dataclass(frozen=True)
class Ran:
    """A program that ran to its end, and what it said."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    """With ``on_line``, its standard error too, in the order written."""
    stderr: str


_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all() -> None:
    """End every program this process is running, from any thread."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        with contextlib.suppress(OSError):
            proc.kill()


def run(
    command: Sequence[str | Path],
    *,
    timeout: float,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> Ran:
    """Run ``command`` to its end, within ``timeout`` seconds.

    Its output is captured; with ``on_line``, standard error joins standard output and each line
    is handed over as it comes (pip's own lines, shown live with ``--verbose``). OSError (no such
    program) is the caller's to word.
    """
    args = tuple(str(c) for c in command)
    streaming = on_line is not None
    with (
        subprocess.Popen(  # noqa: S603 -- every caller passes its own fixed program and arguments
            args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if streaming else subprocess.PIPE,
            env=None if env is None else dict(env),
        ) as proc,
        _registered(proc),
        _deadline(proc, timeout) as expired,
    ):
        if on_line is None:
            out, err = proc.communicate(input)
            stdout, stderr = _text(out), _text(err)
        else:
            assert proc.stdout is not None
            lines = []
            for raw in proc.stdout:
                lines.append(_text(raw))
                on_line(lines[-1])
            proc.wait()
            stdout, stderr = "".join(lines), ""
    if expired.is_set():
        raise TimedOut(f"{Path(args[0]).name} gave no answer in {timeout:.0f} s and was ended")
    return Ran(args, proc.returncode, stdout, stderr)


def _text(data: bytes | None) -> str:
    return (data or b"").decode(errors="replace")


@contextmanager
def _registered(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Known to :func:`stop_all` while it runs; killed at once if the caller is interrupted."""
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        yield
    except BaseException:  # Ctrl-C, SIGTERM, a broken pipe: the program goes too, now
        proc.kill()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)


@contextmanager
def _deadline(proc: subprocess.Popen[bytes], timeout: float) -> Iterator[threading.Event]:
    """Kill ``proc`` once ``timeout`` has passed; the event says whether it had to."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        with contextlib.suppress(OSError):
            proc.kill()

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
