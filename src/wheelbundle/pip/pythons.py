"""The Pythons on the build machine that can build a target's wheels: one of the target's
implementation, version and ABI (``cp39``, ``cp313t``) builds what a server running it imports.

Found where people keep them: ``--build-python``, the runtime a bundle carries, ``python3.X`` on
PATH, pyenv's versions, uv's managed Pythons. Each is asked what it is, by running it; a
candidate that does not run, or says otherwise, is passed over (``--build-python`` is then an
error naming it).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.errors import UsageError
from wheelbundle.run import TimedOut, run

#: What a Python says of itself: its interpreter tag (as wheel tags and ``probe.py`` write it),
#: its full version and its machine. Python 3.6 syntax: the oldest server Pythons build too.
ASK_TIMEOUT = 30
"""Seconds an interpreter has to say what it is: one that does not is passed over."""
_ASK = (
    "import json, platform, sys, sysconfig\n"
    "t = 't' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''\n"
    "impl = {'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name)\n"
    "print(json.dumps({'tag': '%s%d%d%s' % (impl, sys.version_info[0], sys.version_info[1], t),"
    " 'version': platform.python_version(), 'machine': platform.machine()}))\n"
)


@dataclass(frozen=True)
class Python:
    """An interpreter on this machine, as it describes itself."""

    path: Path
    tag: str
    """``cp39``, ``cp313t``: what a target's ``interpreter`` must be."""
    version: str
    """``3.9.2``."""
    kind: str
    """Where it was found (``--build-python``, ``runtime``, ``PATH``, ``pyenv``, ``uv``): what
    the manifest records, never the path."""

    @property
    def label(self) -> str:
        return f"{self.tag} {self.version} ({self.kind})"


def ask(path: Path, kind: str) -> Python | None:
    """What ``path`` says it is, or None when it does not run as a Python of this machine."""
    try:
        done = run([path, "-I", "-c", _ASK], timeout=ASK_TIMEOUT)
        said = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, ValueError, TimedOut):  # not a program, not JSON, no answer: no Python
        return None
    if not isinstance(said, dict) or said.get("machine") != platform.machine():
        return None
    return Python(path, str(said["tag"]), str(said["version"]), kind)


def given_pythons(paths: Sequence[Path]) -> list[Python]:
    """``--build-python`` values, each of which must run: one that does not is a usage error."""
    found = []
    for path in paths:
        python = ask(path, "--build-python")
        if python is None:
            raise UsageError(
                f"--build-python {path}: does not run as a Python on this machine "
                f"({platform.machine()}); give the path of a python3.X executable"
            )
        found.append(python)
    return found


def find_python(
    tag: str,
    given: Sequence[Python] = (),
    runtime: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Python | None:
    """The first Python whose tag is ``tag``: given ones first, then the bundle's own runtime,
    then the ones this machine keeps."""
    for python in given:
        if python.tag == tag:
            return python
    for path, kind in _candidates(tag, runtime, environ):
        if path.is_file() and (candidate := ask(path, kind)) is not None and candidate.tag == tag:
            return candidate
    return None


def _candidates(
    tag: str, runtime: Path | None, environ: Mapping[str, str]
) -> Iterator[tuple[Path, str]]:
    minor = tag.removeprefix("cp").removeprefix("pp").rstrip("t")
    name = f"python{minor[0]}.{minor[1:]}{'t' if tag.endswith('t') else ''}"
    if runtime is not None:
        yield runtime, "runtime"
    for folder in environ.get("PATH", "").split(os.pathsep):
        if folder:
            yield Path(folder) / name, "PATH"
    home = Path(environ.get("HOME", str(Path.home())))
    pyenv = Path(environ.get("PYENV_ROOT", str(home / ".pyenv"))) / "versions"
    yield from ((p / "bin" / name, "pyenv") for p in _sorted_dirs(pyenv))
    data = Path(environ.get("XDG_DATA_HOME", str(home / ".local" / "share")))
    uv = Path(environ.get("UV_PYTHON_INSTALL_DIR", str(data / "uv" / "python")))
    yield from ((p / "bin" / name, "uv") for p in _sorted_dirs(uv))


def _sorted_dirs(folder: Path) -> Iterable[Path]:
    """Newest first, so the latest patch release of a version is the one taken."""
    try:
        return sorted(
            (p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True
        )
    except OSError:
        return ()
