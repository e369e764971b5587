"""The Python interpreters this machine has, by minor version.

For the tests (and `scripts/test_pythons.py`) that run the tool or the server side under every
Python it supports, not only the one running the tests. A version this machine lacks is None,
and each caller says so (a skip with its reason), never passes in silence.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

#: The Pythons the tool runs under (pyproject.toml's requires-python).
TOOL_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
#: The Pythons install.sh installs with (and the probe runs on).
INSTALLABLE_VERSIONS = ("3.8", "3.9", *TOOL_VERSIONS)
#: The Pythons a server may have: install.sh refuses the older ones in its preflight.
SERVER_VERSIONS = ("3.6", "3.7", *INSTALLABLE_VERSIONS)


@functools.cache
def find_python(version: str) -> str | None:
    """A working interpreter of ``version`` ("3.9"): ``python3.9`` on PATH, else pyenv's newest.

    pyenv's shims on PATH run only the versions pyenv has selected, so its folders are read too.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    builds = sorted(root.glob(f"{version}.*/bin/python3"), key=_patch_level, reverse=True)
    for candidate in [shutil.which(f"python{version}"), *map(str, builds)]:
        if candidate and _minor_version(candidate) == version:
            return candidate
    return None


def missing(version: str) -> str:
    """Why a test that needs ``version`` is skipped."""
    return f"no Python {version} here (python{version} on PATH, or a pyenv build of it)"


def _patch_level(python: Path) -> tuple[int, ...]:
    """pyenv's folder ``3.9.18`` as (3, 9, 18); a suffix such as ``3.13.0t`` counts as lower."""
    return tuple(int(part) if part.isdigit() else -1 for part in python.parents[1].name.split("."))


def _minor_version(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None
