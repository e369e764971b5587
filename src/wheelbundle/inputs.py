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
        if path.is_dir():
            project = _project_dir(path)
            projects.append(project)
            args.append(str(project))
            files.append(
                _record(
                    project / "pyproject.toml"
                    if (project / "pyproject.toml").is_file()
                    else project / "setup.py",
                    spec,
                )
            )
        elif path.name == "pyproject.toml" and path.is_file():
            project = _project_dir(path.parent)
            projects.append(project)
            args.append(str(project))
            files.append(_record(path, spec))
        elif path.is_file():
            args += ["-r", str(path)]
            files.append(_record(path, spec))
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


def _project_dir(folder: Path) -> Path:
    folder = folder.resolve()
    if not ((folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file()):
        raise UsageError(f"{folder} is not a Python project (no pyproject.toml or setup.py)")
    return folder


def _record(path: Path, given: str) -> InputFile:
    return InputFile(
        path=str(Path(given) if not Path(given).is_dir() else path), sha256=sha256_file(path)
    )
