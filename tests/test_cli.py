"""The command line's manners: progress bars on a terminal only, nothing a script would have to
parse, a quiet end when the reader of its output goes away, help that says what it does."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.bundles import make_archive
from support.index import LocalIndex

from wheelbundle.cli import ConsoleReporter, main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stderr", [Terminal(), io.StringIO()], ids=["terminal", "pipe"])
def test_a_bar_is_drawn_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO
) -> None:
    monkeypatch.setattr("sys.stderr", stderr)
    bar = ConsoleReporter(quiet=False).bar("downloading", 3, "file")
    bar.advance(2)
    bar.close()
    drawn = "downloading:" in stderr.getvalue() and "/3 [" in stderr.getvalue()
    assert drawn is stderr.isatty()


def test_quiet_draws_no_bar_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = ConsoleReporter(quiet=True).bar("downloading", 3, "file")
    bar.advance(3)
    bar.close()
    assert terminal.getvalue() == ""


def test_a_reader_that_goes_away_ends_the_command_quietly_as_other_tools_do(
    index: LocalIndex, tmp_path: Path
) -> None:
    """``bundle inspect X | head -2``: no ``error: Broken pipe``; the shell's status for a
    program whose reader left, 141."""
    archive = make_archive(tmp_path, index.url, "alpha")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before a byte is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wheelbundle", "inspect", archive],
            stdout=write, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_only_make_says_verbose_shows_pip(capsys: pytest.CaptureFixture[str]) -> None:
    for command, runs_pip in (("make", True), ("inspect", False), ("verify", False)):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ("show pip's own output" in text) is runs_pip, command
