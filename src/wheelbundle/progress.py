"""How the library reports progress without printing: the caller passes a Reporter.

The CLI gives a tqdm-backed one; tests and library users get :class:`Silent` by default.
"""

from __future__ import annotations

from typing import Protocol


class Bar(Protocol):
    def advance(self, amount: int) -> None: ...

    def note(self, text: str) -> None:
        """What the count does not say (``12 files, 3.4 MB``), shown beside it at once."""

    def close(self) -> None: ...


class Reporter(Protocol):
    def stage(self, message: str) -> None:
        """A step has started (resolving, building…)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the run."""

    def bar(self, description: str, total: int | None, unit: str) -> Bar:
        """A measurable step: ``total`` units of ``unit`` (``B`` for bytes); None: a count
        whose end is not known (the projects pip reads while it resolves)."""


class _NoBar:
    def advance(self, amount: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class Silent:
    """Reports nothing: the library's default."""

    def stage(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def bar(self, description: str, total: int | None, unit: str) -> Bar:
        return _NoBar()
