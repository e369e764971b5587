"""What the user asked to bundle, turned into arguments pip understands.

A requirements file becomes ``-r FILE`` (so pip's whole requirements syntax works, nested files,
options and hashes included); a project folder or its ``pyproject.toml`` becomes the folder, which
pip builds like any other local requirement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.cache import sha256_file
from wheelbundle.errors import UsageError
from wheelbundle.manifest import InputFile


@dataclass(frozen=True)
class Inputs:
    pip_args: tuple[str, ...]
    files: tuple[InputFile, ...]
    default_name: str
    """Bundle name when ``--name`` is not given: the folder the first input lives in."""
    projects: tuple[Path, ...]
    """Local project folders among the inputs: their own name and version name the bundle."""


def read_inputs(specs: Sequence[str]) -> Inputs:
    if not specs:
        raise UsageError(
            "nothing to bundle: give a requirements file, a pyproject.toml or a project folder"
        )
    args: list[str] = []
    files: list[InputFile] = []
    projects: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir() or (path.name == "pyproject.toml" and path.is_file()):
            project = (path if path.is_dir() else path.parent).resolve()
            defining = _defining_file(project)
            projects.append(project)
            args.append(str(project))
            # Recorded as given (relative stays relative), so manifests do not vary by machine.
            given = path if path.is_file() else path / defining.name
            files.append(InputFile(path=str(given), sha256=sha256_file(given)))
        elif path.is_file():
            args += ["-r", str(path)]
            files.append(InputFile(path=str(path), sha256=sha256_file(path)))
        else:
            raise UsageError(
                f"{spec}: no such file or folder; give a requirements file, a pyproject.toml or a project folder"
            )
    first = Path(specs[0]).resolve()
    folder = first if first.is_dir() else first.parent
    return Inputs(
        pip_args=tuple(args),
        files=tuple(files),
        default_name=folder.name or "bundle",
        projects=tuple(projects),
    )


def _defining_file(project: Path) -> Path:
    """``pyproject.toml``, else ``setup.py``: what makes a folder a Python project."""
    for name in ("pyproject.toml", "setup.py"):
        if (project / name).is_file():
            return project / name
    raise UsageError(f"{project} is not a Python project (no pyproject.toml or setup.py)")
