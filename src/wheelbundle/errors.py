"""Every failure a user can cause, as one family of exceptions.

The library raises these and never prints; the CLI turns each into one ``error: …`` line and an
exit code. ``str()`` of an error is that line, so it must name the package and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence


class BundleError(Exception):
    """Root of every error the user can act on."""

    exit_code = 1


class UsageError(BundleError):
    """The command line or an input file is wrong."""

    exit_code = 2


class PipFailed(BundleError):
    """pip exited non-zero; keeps its command line, exit code and the tail of its output."""

    def __init__(self, message: str, *, command: Sequence[str], returncode: int, output: str):
        super().__init__(message)
        self.command = list(command)
        self.returncode = returncode
        self.output = output

    def reworded(self, kind: type[PipFailed], message: str) -> PipFailed:
        """The same pip failure as ``kind``, told in our words; pip's command and output kept."""
        return kind(message, command=self.command, returncode=self.returncode, output=self.output)

    @property
    def tail(self) -> str:
        """The lines that explain the failure: the end of a build's own output, else pip's last."""
        lines = self.output.rstrip().splitlines()
        ends = [i for i, line in enumerate(lines) if line.strip() == "[end of output]"]
        if ends:
            return "\n".join(line.strip() for line in lines[max(0, ends[-1] - 10) : ends[-1]])
        return "\n".join(lines[-15:])


class ResolutionFailed(PipFailed):
    """pip could not find a package, or the requirements conflict."""


class IndexUnreachable(PipFailed):
    """pip could not talk to the package index."""


class BuildFailed(PipFailed):
    """An sdist did not build into a wheel."""


class FetchFailed(BundleError):
    """A file could not be downloaded."""


class Stalled(FetchFailed):
    """A server answered so slowly that its request ran past its deadline."""


class TooLarge(FetchFailed):
    """A server's answer is larger than any real one (a page of gigabytes, a compression bomb)."""


class AccessRefused(FetchFailed):
    """An index answered 401 or 403: the credentials for it are missing or wrong.

    The message names the index's host and where credentials go, never the credentials.
    """


class PipAccessRefused(PipFailed, AccessRefused):
    """pip was refused by an index, as its output says."""


class HashMismatch(BundleError):
    """A file's bytes are not the ones the index (or the lock) promised."""


class PipHashMismatch(PipFailed, HashMismatch):
    """pip downloaded a file whose hash is not one the requirements file gives for it."""


class VerifyFailed(BundleError):
    """A bundle is damaged, tampered with or unsafe; names the first bad member."""

    exit_code = 3


def done_before(interrupt: BaseException, done: str) -> BaseException:
    """``interrupt`` (Ctrl-C, SIGTERM) marked with what had been done outside this machine
    before it, which nothing can take back: the CLI says that instead of "nothing was written"."""
    interrupt.wheelbundle_done = done  # type: ignore[attr-defined]
    return interrupt


def what_was_done(interrupt: BaseException) -> str | None:
    """What :func:`done_before` marked ``interrupt`` with, if anything."""
    done = getattr(interrupt, "wheelbundle_done", None)
    return done if isinstance(done, str) else None
