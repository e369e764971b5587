"""The command line's manners: progress bars on a terminal only, nothing a script would have to
parse, a quiet end when the reader of its output goes away, help that says what it does."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
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


def make_on(terminal: bool, folder: Path, index_url: str) -> str:
    """``bundle make`` of alpha and gamma (an sdist), its stderr a pseudo-terminal or a pipe:
    what a user there sees, as the bytes written."""
    req = folder / "requirements.txt"
    folder.mkdir()
    req.write_text("alpha\ngamma\n")
    command: list[str | Path] = [sys.executable, "-m", "wheelbundle", "make", req,
                                 "-o", folder / "dist", "--index-url", index_url, "--no-cache"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    if not terminal:
        done = subprocess.run(command, capture_output=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stderr.decode()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # as a window
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave, env=env) as made:
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the last writer to the terminal is gone
                break
            if not chunk:
                break
            seen += chunk
        os.close(master)
    assert made.returncode == 0, seen
    return seen.decode()


def test_a_terminal_shows_the_resolution_and_builds_live_and_a_pipe_only_the_steps(
    index: LocalIndex, tmp_path: Path
) -> None:
    live = make_on(True, tmp_path / "tty", index.url)
    assert "\r" in live  # redrawn in place
    counts = re.findall(r"resolving for CPython [0-9.]+: (\d+) projects, (\d+) files?, ", live)
    assert counts and max(int(p) for p, _ in counts) >= 3 and max(int(f) for _, f in counts) >= 1
    assert re.search(r"\d+ files?, \d+\.\d MB \[", live)
    assert "building wheels:" in live
    logged = make_on(False, tmp_path / "pipe", index.url)
    assert "\r" not in logged and "projects" not in logged and "building wheels:" not in logged
    assert logged.splitlines()[0].startswith("resolving for CPython ")


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
