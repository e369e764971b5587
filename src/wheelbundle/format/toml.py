"""TOML read as the standard library reads it (``tomllib``, Python 3.11 on), or by its backport
``tomli`` on 3.10: the one place that chooses, for pyproject.toml and every lock."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:  # pragma: no cover - Python 3.10
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads"]
