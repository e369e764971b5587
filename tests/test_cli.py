"""The console reporter: progress bars on a terminal, nothing that a script would have to parse."""

from __future__ import annotations

import io

import pytest

from wheelbundle.cli import ConsoleReporter


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
