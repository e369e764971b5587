"""``bundle.yaml``: a project's bundle as one repeatable command (``bundle make`` with no argument).

Every key is a ``bundle make`` option's, as the options' table (``inputs.options.MAKE_OPTIONS``)
names it, and is checked by that option's kind; the command line overrides the file. Paths in
the file are relative to the file. Errors name the key and its line, so a typo is found at once:
``bundle.yaml line 3: unknown key 'nmae'``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wheelbundle.errors import UsageError
from wheelbundle.inputs.options import MAKE_OPTIONS, Option

DEFAULT = Path("bundle.yaml")
_BY_KEY = {o.key: o for o in MAKE_OPTIONS if o.key is not None}
KEYS = tuple(_BY_KEY)
_ONE_VALUE = ("text", "choice", "path")


@dataclass(frozen=True)
class BundleConfig:
    """What ``bundle.yaml`` asks for; paths already made relative to the working folder."""

    path: Path
    name: str | None = None
    version: str | None = None
    inputs: tuple[str, ...] = ()
    """Requirements files, ``pyproject.toml`` files, project folders or a ``pylock.toml``."""
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    """Shorthands, or ``bundle probe`` JSON files."""
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    format: str | None = None
    output: Path | None = None
    """The folder the archive goes into (``-o``)."""
    sign_key: Path | None = None
    installer: str | None = None
    """``pip`` or ``uv``: what install.sh installs with (``--installer``)."""
    build_pythons: tuple[Path, ...] = ()
    """``--build-python``: Pythons that build sdists for targets of their version."""


def load_config(path: Path) -> BundleConfig:
    """Read and check ``path``; any mistake is a UsageError naming the key and its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(
            f"{path}: no such file; give a requirements file, a pyproject.toml or a project "
            "folder, or write a bundle.yaml"
        ) from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"{path}{where}: not valid YAML ({problem})") from exc
    if root is None:
        raise UsageError(f"{path}: empty; expected keys such as {', '.join(KEYS[:3])}")
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{path} line {root.start_mark.line + 1}: expected 'key: value' lines")
    base = path.parent
    values: dict[str, Any] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = key_node.value
        if not isinstance(key_node, yaml.ScalarNode) or key not in KEYS:
            raise UsageError(f"{path} line {line}: unknown key {key!r}")
        if key in values:
            raise UsageError(f"{path} line {line}: {key!r} is given twice")
        try:  # a tag may ask for what safe loading refuses (!!python/name:…) or cannot make
            value = yaml.SafeLoader(text).construct_object(value_node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise UsageError(f"{path} line {line}: {key}: not a plain value ({problem})") from exc
        values[key] = _checked(path, line, key, value, base)
    return BundleConfig(path=path, **values)


def _checked(path: Path, line: int, key: str, value: Any, base: Path) -> Any:
    """The value as the option's kind takes it, paths read from the file's folder."""
    where = f"{path} line {line}"
    option: Option = _BY_KEY[key]
    if option.kind in _ONE_VALUE:
        if not isinstance(value, str) or not value:
            hint = f'; quote it: {key}: "{value}"' if isinstance(value, int | float) else ""
            raise UsageError(f"{where}: {key!r} must be a string, not {_kind(value)}{hint}")
        if option.choices and value not in option.choices:
            raise UsageError(
                f"{where}: {key!r} must be one of {', '.join(option.choices)}, not {value!r}"
            )
        return Path(_relative(base, value)) if option.kind == "path" else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where}: {key!r} must be a list of strings, not {_kind(value)}")
    if option.kind == "inputs":
        return tuple(_relative(base, v) for v in value)
    if option.kind == "targets":
        return tuple(_relative(base, v) if v.endswith(".json") else v for v in value)
    if option.kind == "links":
        return tuple(v if "://" in v else _relative(base, v) for v in value)
    if option.kind == "pythons":
        return tuple(Path(v if "/" not in v else _relative(base, v)) for v in value)
    return tuple(value)


def _relative(base: Path, value: str) -> str:
    """``value`` from the file's folder, as seen from the working folder."""
    return os.path.normpath(base / Path(value).expanduser())


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list with other things than strings" if value else "an empty list"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return "true/false"
    return "a number" if isinstance(value, int | float) else f"a {type(value).__name__}"
