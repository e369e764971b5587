"""The command line's manners: progress bars on a terminal only, nothing a script would have to
parse, a quiet end when the reader of its output goes away, help that says what it does."""

from __future__ import annotations

import fcntl
import io
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from support.bundles import make_archive
from support.index import LocalIndex

from wheelbundle.cli import MAKE_EXAMPLES, TOP_EXAMPLES, ConsoleReporter, build_parser, main


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


@pytest.mark.parametrize("examples", [MAKE_EXAMPLES, TOP_EXAMPLES], ids=["make", "top"])
def test_help_gives_examples_the_parser_takes(
    capsys: pytest.CaptureFixture[str], examples: tuple[tuple[str, str], ...]
) -> None:
    for command, _ in examples:
        build_parser().parse_args(shlex.split(command)[1:])  # an error here exits 2
    args = ["make", "--help"] if examples is MAKE_EXAMPLES else ["--help"]
    with pytest.raises(SystemExit):
        main(args)
    shown = capsys.readouterr().out
    assert "examples:" in shown
    assert all(f"{command}  " in shown and f"# {what}" in shown for command, what in examples)
    if examples is MAKE_EXAMPLES:
        assert "SOURCE_DATE_EPOCH" in shown and "XDG_CACHE_HOME" in shown and "NETRC" in shown


BASH = shutil.which("bash")


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("bundle m", ["make", "merge"]),
        ("bundle make --dr", ["--dry-run"]),
        ("bundle make --installer ", ["pip", "uv"]),
        ("bundle make --format t", ["tar.gz"]),
        ("bundle cache ", ["info", "clean"]),
        ("bundle inspect --", ["--help", "--json", "--quiet", "--verbose"]),
        ("bundle completion ", ["bash", "zsh"]),
        ("bundle make req", []),  # a file name: bash's own completion (-o default) takes over
    ],
)
def test_bash_completes_commands_options_and_choices(line: str, offered: list[str]) -> None:
    script = subprocess.run(
        [sys.executable, "-m", "wheelbundle", "completion", "bash"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    words = line.split(" ")
    probe = (
        f"{script}\nCOMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n_bundle\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    assert BASH is not None
    done = subprocess.run([BASH, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(w for w in done.stdout.splitlines() if w) == sorted(offered)


def test_no_abbreviation_and_an_unknown_option_gets_its_command_s_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """uv's ``--python 3.12`` once became ``--python-runtime 3.12`` ("no such file")."""
    with pytest.raises(SystemExit) as exit_:
        main(["make", "--python", "3.12", "requirements.txt"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: bundle make ")
    assert err.splitlines()[-1] == "bundle make: error: unrecognized arguments: --python"
