"""Reusing pip's last resolution when nothing that decides it has changed.

pip's resolution is the slow, CPU-bound part of a rebuild. Its outcome depends on the
requirement files (and the files they include), the index options, pip's configuration and
version, and the target; the key is a hash of all of them. A stored resolution is reused for
``MAX_AGE`` seconds, after which a new release on the index may change it: ``--refresh`` forces a
new one at any time. Inputs whose content pip reads from elsewhere (local project folders, paths,
editables) are never reused.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from wheelbundle import __version__
from wheelbundle.cache import content_key
from wheelbundle.inputs.reqfile import RequirementFiles, include_target
from wheelbundle.pip.config import config_files
from wheelbundle.target import Target

MAX_AGE = 24 * 3600
_LOCAL = re.compile(r"^\s*(?:-e|--editable|\.|/|~)|file:")


def resolution_key(
    requirements: Sequence[str],
    files: RequirementFiles,
    pip_options: Sequence[str],
    target: Target,
) -> str | None:
    """The hash of everything that decides the resolution; None when it cannot be known.

    ``requirements`` are pip's arguments; ``files`` the requirements files they name, read.
    """
    parts: list[str] = [__version__, version("pip"), *pip_options, json.dumps(target.probe_json())]
    lines = files.lines if "-r" in requirements else ()
    if any(_LOCAL.search(ln.text) or "://" in (include_target(ln.text) or "") for ln in lines):
        return None  # pip reads part of them from elsewhere: a folder, a file, a URL
    parts += [f"{ln.file}:{ln.number}:{ln.text}" for ln in lines]
    args = list(requirements)
    for i, arg in enumerate(args):
        if i > 0 and args[i - 1] == "-r":
            parts.append(arg)  # read above, with every file it includes
        elif arg != "-r" and (Path(arg).exists() or _LOCAL.search(arg)):
            return None
        else:
            parts.append(arg)
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("PIP_"))
    parts += [
        f"{p}:{p.read_text(errors='replace')}" for p in config_files(os.environ) if p.is_file()
    ]
    return content_key(*parts)
