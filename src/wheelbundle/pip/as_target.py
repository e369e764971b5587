"""Run pip as if on the target server: its wheel tags, its Python version, its markers.

Usage (in a child process only): ``python -m wheelbundle.pip.as_target TARGET.json PIP-ARGS…``

pip alone cannot resolve for another machine: ``--platform`` takes exact tags only, forces
binary-only, and markers are still evaluated for the build machine. So this child replaces the
three facts pip reads about "this machine" with the target's description (the JSON
``bundle probe`` writes) and then runs pip's ordinary command line. Our own process never imports
pip; this child is pip, with a different idea of where it runs.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

#: Every name of pip's internals this child replaces or calls. pip does not promise them: a
#: release that moves one would otherwise leave pip resolving, silently, for the build machine.
PATCHED = (
    ("pip._internal.models.target_python", "TargetPython.__init__"),
    ("pip._internal.models.target_python", "TargetPython.get_sorted_tags"),
    ("pip._internal.models.target_python", "TargetPython.get_unsorted_tags"),
    ("pip._internal.resolution.resolvelib.candidates", "RequiresPythonCandidate.__init__"),
    ("pip._internal.utils.compatibility_tags", "get_supported"),
    ("pip._internal.resolution.resolvelib.factory", "get_supported"),
    ("pip._vendor.packaging.markers", "default_environment"),
    ("pip._vendor.packaging.tags", "Tag"),
    ("pip._internal.cli.main", "main"),
)
_TARGET_PYTHON_ARGS = ["self", "platforms", "py_version_info", "abis", "implementation"]


def unsupported_pip(pip_version: str) -> str | None:
    """The pip range wheelbundle declares (``pip>=24.1``), when ``pip_version`` is outside it."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    for text in requires("wheelbundle") or ():
        declared = Requirement(text)
        if declared.name == "pip" and not declared.specifier.contains(pip_version, True):
            return str(declared.specifier)
    return None


def missing_internals() -> list[str]:
    """The names in :data:`PATCHED` this pip lacks (or whose signature moved); none is fine."""
    missing = []
    for module_name, path in PATCHED:
        try:
            found: Any = importlib.import_module(module_name)
            for part in path.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{path}")
    if not missing:
        from pip._internal.models.target_python import TargetPython

        if list(inspect.signature(TargetPython.__init__).parameters) != _TARGET_PYTHON_ARGS:
            missing.append("pip._internal.models.target_python.TargetPython.__init__ (arguments)")
    return missing


def _patch(spec: dict[str, Any]) -> None:
    from pip._internal.models import target_python
    from pip._internal.resolution.resolvelib import (
        candidates,
        factory,
    )
    from pip._internal.utils import compatibility_tags
    from pip._vendor.packaging import markers
    from pip._vendor.packaging.tags import Tag

    tags = [Tag(*tag.split("-")) for tag in spec["tags"]]
    version = tuple(int(part) for part in spec["python_full_version"].split(".")[:3])
    environment = dict(spec["markers"])

    def supported(*_args: object, **_kwargs: object) -> list[Any]:
        return list(tags)

    target_init = target_python.TargetPython.__init__

    def init(
        self: Any,
        platforms: Any = None,
        py_version_info: Any = None,
        abis: Any = None,
        implementation: Any = None,
    ) -> None:
        target_init(self, platforms, py_version_info or version, abis, implementation)

    python_init = candidates.RequiresPythonCandidate.__init__

    def python_candidate(self: Any, py_version_info: Any) -> None:
        python_init(self, py_version_info or version)

    target_python.TargetPython.__init__ = init
    target_python.TargetPython.get_sorted_tags = lambda self: list(tags)
    target_python.TargetPython.get_unsorted_tags = lambda self: set(tags)
    candidates.RequiresPythonCandidate.__init__ = python_candidate
    compatibility_tags.get_supported = supported
    factory.get_supported = supported
    markers.default_environment = lambda: dict(environment)


def main(argv: list[str]) -> int:
    from pip import __version__

    if wanted := unsupported_pip(__version__):
        sys.stderr.write(
            f"ERROR: wheelbundle resolves for another machine with pip{wanted}, and this is "
            f"pip {__version__}: python -m pip install 'pip{wanted}'\n"
        )
        return 3
    if missing := missing_internals():
        sys.stderr.write(
            f"ERROR: wheelbundle cannot make pip {__version__} resolve for another machine: "
            f"pip no longer has {', '.join(missing)}; install a pip wheelbundle supports "
            "(see its pyproject.toml) or resolve on a machine like the target\n"
        )
        return 3
    _patch(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    from pip._internal.cli.main import main as pip_main

    return int(pip_main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
