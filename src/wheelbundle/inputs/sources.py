"""What the user asked to bundle, turned into arguments pip understands.

A requirements file becomes ``-r FILE`` (so pip's whole requirements syntax works, nested files,
options and hashes included); a project folder or its ``pyproject.toml`` becomes the folder, which
pip builds like any other local requirement, with the ``--extra`` names asked for and the
requirements of the ``--group`` names (PEP 735) beside it. A lock (``pylock.toml``, ``uv.lock``,
``poetry.lock``, ``pdm.lock``, ``Pipfile.lock``) is not for pip at all: it is already a
resolution, read by :mod:`wheelbundle.resolve.pylock` and :mod:`wheelbundle.resolve.locks`; a
project folder with one lock beside it is bundled from that lock, as its tool would install it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.dependency_groups import resolve_dependency_groups
from packaging.errors import ExceptionGroup
from packaging.pylock import is_valid_pylock_path
from packaging.utils import canonicalize_name

from wheelbundle.cache import sha256_file
from wheelbundle.errors import UsageError
from wheelbundle.format import toml
from wheelbundle.format.manifest import InputFile
from wheelbundle.inputs.reqfile import RequirementFiles, read_requirements, requirement_files

_EDITABLE = ("-e", "--editable")
LOCK_TOOLS = {"uv.lock": "uv", "poetry.lock": "poetry", "pdm.lock": "pdm", "Pipfile.lock": "pipenv"}
"""The locks read as locks, by file name, and the tool that writes each."""
_KINDS = (
    "a requirements file, a pyproject.toml, a project folder or a lock "
    f"({', '.join(['pylock.toml', *LOCK_TOOLS])})"
)
RELOCK = {"uv": "uv lock", "poetry": "poetry lock", "pdm": "pdm lock", "pipenv": "pipenv lock"}
_OTHER_LOCKS = {
    "package-lock.json": "npm",
    "npm-shrinkwrap.json": "npm",
    "yarn.lock": "Yarn",
    "pnpm-lock.yaml": "pnpm",
    "Cargo.lock": "Cargo",
    "Gemfile.lock": "Bundler",
    "composer.lock": "Composer",
    "go.sum": "Go",
    "conda-lock.yml": "conda-lock",
    "pixi.lock": "pixi",
    "pdm.toml": "PDM (its settings, not its lock: give pdm.lock)",
    "Pipfile": "Pipenv (the Pipfile, not its lock: give Pipfile.lock)",
}


@dataclass(frozen=True)
class Inputs:
    pip_args: tuple[str, ...]
    files: tuple[InputFile, ...]
    default_name: str
    """Bundle name when ``--name`` is not given: the folder the first input lives in."""
    projects: tuple[Path, ...]
    """Local project folders among the inputs: their own name and version name the bundle."""
    extras: tuple[str, ...] = ()
    """``--extra`` names, asked of every project (or of the lock file)."""
    groups: tuple[str, ...] = ()
    """``--group`` names (PEP 735)."""
    lock: Path | None = None
    """A lock: bundled as locked, without resolving."""
    ignored_lock: Path | None = None
    """A lock beside a project folder that ``--resolve`` passed over."""
    requirements: RequirementFiles = field(default_factory=RequirementFiles)
    """The requirements files among the inputs and the files they include, read once."""


def read_inputs(
    specs: Sequence[str],
    extras: Sequence[str] = (),
    groups: Sequence[str] = (),
    resolve: bool = False,
) -> Inputs:
    if not specs:
        raise UsageError(f"nothing to bundle: give {_KINDS}")
    extras = tuple(canonicalize_name(e) for e in extras)
    args: list[str] = []
    files: list[InputFile] = []
    projects: list[Path] = []
    group_tables: list[tuple[Path, Mapping[str, Any]]] = []
    lock = ignored = None
    for spec in specs:
        path = Path(spec)
        if path.is_file() and path.name in _OTHER_LOCKS:
            raise UsageError(
                f"{spec}: a lock file of {_OTHER_LOCKS[path.name]}, not of a Python tool "
                f"wheelbundle reads; give {_KINDS}"
            )
        if path.is_file() and (is_valid_pylock_path(path) or path.name in LOCK_TOOLS):
            if len(specs) > 1:
                raise UsageError(
                    f"{spec}: a lock is a whole environment already; bundle it on its own"
                )
            lock = path
            files.append(InputFile(path=str(path), sha256=sha256_file(path)))
            if path.name in LOCK_TOOLS and _is_project(path.parent, _pyproject(path.parent)):
                projects.append(path.parent.resolve())  # the app the lock is for names the bundle
            continue
        if path.is_dir() or (path.name == "pyproject.toml" and path.is_file()):
            folder = (path if path.is_dir() else path.parent).resolve()
            pyproject = _pyproject(folder)
            if beside := _locks_beside(path if path.is_dir() else path.parent, resolve):
                if resolve:
                    ignored = beside[0]
                elif len(specs) > 1:
                    raise UsageError(
                        f"{spec}: bundled from its {beside[0].name}, a whole environment "
                        "already; bundle it on its own, or pass --resolve to resolve anew"
                    )
                else:
                    lock = beside[0]
                    projects.append(folder)
                    files.append(InputFile(path=str(lock), sha256=sha256_file(lock)))
                    continue
            if "dependency-groups" in pyproject:
                group_tables.append((folder / "pyproject.toml", pyproject["dependency-groups"]))
            if _is_project(folder, pyproject):
                projects.append(folder)
                args.append(f"{folder}[{','.join(extras)}]" if extras else str(folder))
            elif not groups:
                raise UsageError(
                    f"{spec}: no [project] table and no setup.py; pass --group NAME to bundle "
                    "its dependency groups"
                )
            # Recorded as given (relative stays relative), so manifests do not vary by machine.
            given = path if path.is_file() else path / _defining_file(folder).name
            files.append(InputFile(path=str(given), sha256=sha256_file(given)))
            continue
        if path.is_file():
            args += ["-r", str(path)]
        else:
            raise UsageError(f"{spec}: no such file or folder; give {_KINDS}")
        files.append(InputFile(path=str(path), sha256=sha256_file(path)))
    requirements = read_requirements(requirement_files(args))
    if not projects and lock is None and not groups:
        _require_a_requirement(requirements)
    if extras and not projects and lock is None:
        raise UsageError(
            "--extra applies to a project or a lock; in a requirements file write "
            "the extras in the line itself: name[extra]"
        )
    if groups and lock is None:
        args += _group_requirements(group_tables, groups)
    first = Path(specs[0]).resolve()
    folder = first if first.is_dir() else first.parent
    return Inputs(
        pip_args=tuple(args),
        files=tuple(files),
        default_name=folder.name or "bundle",
        projects=tuple(projects),
        extras=extras,
        groups=tuple(groups),
        lock=lock,
        ignored_lock=ignored,
        requirements=requirements,
    )


def _locks_beside(folder: Path, resolve: bool) -> list[Path]:
    """The one lock beside a project; several are an error that names them (unless the project
    is to be resolved anew, passing over them all)."""
    found = [folder / name for name in ("pylock.toml", *LOCK_TOOLS) if (folder / name).is_file()]
    if len(found) > 1 and not resolve:
        raise UsageError(
            f"{folder}: {' and '.join(p.name for p in found)} are all beside the project; name "
            "the one to bundle from (bundle make FOLDER/LOCK), or pass --resolve to resolve anew"
        )
    return found


def _require_a_requirement(requirements: RequirementFiles) -> None:
    """Requirements files that ask for nothing (empty, comments, options only) are a mistake:
    the bundle would hold pip alone."""
    for line in requirements.lines:
        first = line.text.split(maxsplit=1)[0] if line.text else ""
        if (
            first
            and not line.constraint
            and (not first.startswith("-") or first.startswith(_EDITABLE))
        ):
            return
    raise UsageError(
        f"{', '.join(map(str, requirements.files))}: names no requirement (only comments, options or "
        "constraints); nothing to bundle"
    )


def _pyproject(folder: Path) -> Mapping[str, Any]:
    path = folder / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from exc


def _is_project(folder: Path, pyproject: Mapping[str, Any]) -> bool:
    """Something pip can build: a ``[project]`` table, a build system, or a ``setup.py``."""
    return bool(
        "project" in pyproject or "build-system" in pyproject or (folder / "setup.py").is_file()
    )


def _group_requirements(
    tables: Sequence[tuple[Path, Mapping[str, Any]]], groups: Sequence[str]
) -> list[str]:
    """Every requirement of the named groups, from each project that defines them (PEP 735)."""
    if not tables:
        raise UsageError(
            "--group needs a project input whose pyproject.toml has [dependency-groups]"
        )
    requirements: list[str] = []
    for group in groups:
        having = [(path, table) for path, table in tables if _has_group(table, group)]
        if not having:
            known = sorted({str(g) for _, table in tables for g in table})
            raise UsageError(
                f"no dependency group {group!r} in {', '.join(str(p) for p, _ in tables)}"
                f" (groups there: {', '.join(known) or 'none'})"
            )
        for path, table in having:
            try:
                requirements += resolve_dependency_groups(table, group)
            except (ExceptionGroup, ValueError, TypeError) as exc:
                reasons = "; ".join(str(e) for e in getattr(exc, "exceptions", [exc]))
                raise UsageError(f"{path}: [dependency-groups] {group!r}: {reasons}") from exc
    return requirements


def _has_group(table: Mapping[str, Any], group: str) -> bool:
    return canonicalize_name(group) in {canonicalize_name(str(g)) for g in table}


def _defining_file(project: Path) -> Path:
    """``pyproject.toml``, else ``setup.py``: what makes a folder a Python project."""
    for name in ("pyproject.toml", "setup.py"):
        if (project / name).is_file():
            return project / name
    raise UsageError(f"{project} is not a Python project (no pyproject.toml or setup.py)")
