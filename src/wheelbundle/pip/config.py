"""pip's configuration: where pip reads it from, and the settings in force.

The settings come from pip itself (``pip config list``, asked at most once per run, and only
when a setting is needed), layered under ``PIP_*`` variables as pip layers them; credentials,
the network settings and the index check all read them here. The files are listed for the
resolution's cache key, which must change when any of them does, without starting pip.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

_CONFIG_LINE = re.compile(r"^(?P<key>[^=\s]+)=(?P<value>'.*'|\".*\")$")


def config_files(environ: Mapping[str, str]) -> list[Path]:
    """The files pip reads its configuration from, in its order (pip's documentation,
    "Configuration"): global, user (the legacy place, then the current one), site, then
    ``PIP_CONFIG_FILE``; none when that is ``os.devnull``."""
    if environ.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        program_data = Path(environ.get("PROGRAMDATA", "C:/ProgramData"))
        app_data = Path(environ.get("APPDATA", home / "AppData/Roaming"))
        files = [program_data / "pip/pip.ini", home / "pip/pip.ini", app_data / "pip/pip.ini"]
        files.append(Path(sys.prefix) / "pip.ini")
    elif sys.platform == "darwin":
        support = home / "Library/Application Support/pip"
        user = support if support.is_dir() else home / ".config/pip"
        files = [Path("/Library/Application Support/pip/pip.conf"), home / ".pip/pip.conf"]
        files += [user / "pip.conf", Path(sys.prefix) / "pip.conf"]
    else:
        dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        files = [Path(d) / "pip/pip.conf" for d in dirs if d] + [Path("/etc/pip.conf")]
        xdg = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".pip/pip.conf", xdg / "pip/pip.conf", Path(sys.prefix) / "pip.conf"]
    if given := environ.get("PIP_CONFIG_FILE"):
        files.append(Path(given))
    return files


def pip_settings(environ: Mapping[str, str], pip_config: Callable[[], str]) -> dict[str, str]:
    """Every pip setting in force, by option name: ``PIP_*`` variables over pip's configuration
    files (``pip_config`` gives ``pip config list``, asked only when pip reads any file)."""
    settings: dict[str, str] = {}
    if environ.get("PIP_CONFIG_FILE") != os.devnull:
        settings.update(config_settings(pip_config()))
    for name, value in environ.items():
        if name.startswith("PIP_"):
            settings[name.removeprefix("PIP_").lower().replace("_", "-")] = value
    return settings


def config_settings(pip_config_list: str) -> list[tuple[str, str]]:
    """``(KEY, VALUE)`` of each line of ``pip config list``, in its order.

    Its lines are ``SECTION.KEY='VALUE'`` for every configuration file pip reads and ``:env:.KEY``
    for ``PIP_*`` variables.
    """
    settings = []
    for line in pip_config_list.splitlines():
        m = _CONFIG_LINE.match(line.strip())
        if m is None:
            continue
        try:
            value = ast.literal_eval(m["value"])
        except (ValueError, SyntaxError):
            continue
        settings.append((m["key"].rpartition(".")[2], str(value)))
    return settings
