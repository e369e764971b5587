"""Reusing pip's last resolution when nothing that decides it has changed.

pip's resolution is the slow, CPU-bound part of a rebuild. Its outcome depends on the
requirement files (and the files they include), the index options, pip's configuration and
version, and the target; the key is a hash of all of them. A stored resolution is reused for
``MAX_AGE`` seconds, after which a new release on the index may change it: ``--refresh`` forces a
new one at any time. Inputs whose content pip reads from elsewhere (local project folders, paths,
editables) are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from wheelbundle import __version__
from wheelbundle.hashes import include_target, requirement_lines
from wheelbundle.target import Target

MAX_AGE = 24 * 3600
_LOCAL = re.compile(r"^\s*(?:-e|--editable|\.|/|~)|file:")


def resolution_key(
    requirements: Sequence[str], pip_options: Sequence[str], target: Target
) -> str | None:
    """The hash of everything that decides the resolution; None when it cannot be known."""
    parts: list[str] = [__version__, version("pip"), *pip_options, json.dumps(target.describe())]
    args = list(requirements)
    for i, arg in enumerate(args):
        if i > 0 and args[i - 1] == "-r":
            lines = list(requirement_lines([Path(arg)]))
            if any(
                _LOCAL.search(ln.text) or "://" in (include_target(ln.text) or "") for ln in lines
            ):
                return None  # pip reads part of it from elsewhere: a folder, a file, a URL
            parts += [f"{ln.file}:{ln.number}:{ln.text}" for ln in lines]
        elif arg != "-r" and (Path(arg).exists() or _LOCAL.search(arg)):
            return None
        else:
            parts.append(arg)
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("PIP_"))
    parts += [f"{p}:{p.read_text(errors='replace')}" for p in _pip_config_files() if p.is_file()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _pip_config_files() -> list[Path]:
    """Where pip reads its configuration from, in the order it does."""
    home = Path.home()
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf", Path(xdg) / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env := os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(env))
    return files
