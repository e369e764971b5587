"""The describe stage: the manifest of a bundle, from what was resolved and collected.

Each wheel becomes a :class:`Package` (where it came from, its hashes, its license, what repair
grafted), each target a :class:`TargetEntry` (its wheels, its lock, and the marker decisions the
server must agree with), and the bundle gets its name, version and one timestamp.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from wheelbundle import __version__
from wheelbundle.cache import sha256_file
from wheelbundle.collect.repair import Repaired
from wheelbundle.collect.wheelhouse import Collected
from wheelbundle.errors import BundleError, UsageError
from wheelbundle.format.layout import CREATED_FORMAT, lock_name
from wheelbundle.format.licenses import license_from, wheel_license
from wheelbundle.format.manifest import (
    InputFile,
    Manifest,
    Package,
    TargetEntry,
    origin_of,
    source_url_of,
)
from wheelbundle.format.pins import Pin
from wheelbundle.inputs.reqfile import requirement_args
from wheelbundle.inputs.sources import Inputs
from wheelbundle.pip.pythons import Python
from wheelbundle.resolve.dry_run import decisions
from wheelbundle.resolve.resolver import Resolved
from wheelbundle.target import Target

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def describe(
    inputs: Inputs,
    resolved: Sequence[Resolved],
    collected: Collected,
    name: str | None = None,
    version: str | None = None,
    lock: str | None = None,
) -> tuple[Manifest, dict[str, Path]]:
    """The manifest, and each of its wheels' files by wheel name; ``lock`` says what the
    inputs' lock is (its tool and format version), recorded beside it."""
    all_pins = [pin for r in resolved for pin in r.resolution.pins]
    packages: dict[str, Package] = {}
    wheels: dict[str, Path] = {}
    described: dict[Path, Package] = {}  # a wheel several targets share is hashed once

    def add(pin: Pin, target: Target) -> str:
        wheel = collected.wheel(pin, target)
        package = described.get(wheel) or described.setdefault(
            wheel, _package(pin, wheel, collected.repairs.get(wheel), collected.builders.get(wheel))
        )
        if packages.setdefault(package.wheel, package).sha256 != package.sha256:
            raise BundleError(
                f"two different files are both called {package.wheel}; bundle the targets separately"
            )
        wheels[package.wheel] = wheel
        return package.wheel

    asked = [*_requirement_texts(inputs), *(text for pin in all_pins for text in pin.requires)]
    entries = []
    for r in resolved:
        names = [add(pin, r.target) for pin in r.resolution.pins]
        entry = replace(
            _target_entry(r.target, names, single=len(resolved) == 1),
            environment=dict(r.target.markers),
            decisions=decisions(asked, r.target.markers),
        )
        entries.append(replace(entry, uv_wheel=add(r.uv, r.target)) if r.uv else entry)
    epoch = _source_date_epoch(inputs.files)
    name, version = _name_and_version(name, version, inputs, all_pins, epoch)
    manifest = Manifest(
        name=name,
        version=version,
        tool_version=__version__,
        created=datetime.fromtimestamp(epoch, timezone.utc).strftime(CREATED_FORMAT),
        pip_version=resolved[0].resolution.pip_version,
        targets=tuple(entries),
        inputs=tuple(
            replace(f, lock=lock) if lock and Path(f.path) == inputs.lock else f
            for f in inputs.files
        ),
        packages=tuple(sorted(packages.values(), key=lambda p: (p.name, p.wheel))),
    )
    return manifest, wheels


def _requirement_texts(inputs: Inputs) -> list[str]:
    """Every requirement the inputs state themselves: lines of requirements files, groups."""
    return [*inputs.requirements.requirements(), *requirement_args(inputs.pip_args)]


def _target_entry(target: Target, wheels: Sequence[str], single: bool) -> TargetEntry:
    """A single target is named after what its wheels need (``cp311-none-any`` when pure)."""
    name = target.bundle_tag(wheels) if single or target.label is None else target.label
    return TargetEntry(
        name=name,
        implementation=target.implementation,
        python_version=target.python_version,
        interpreter=target.interpreter,
        platform=target.platform_needed(wheels),
        lock=lock_name(name, single),
        wheels=tuple(sorted(wheels)),
    )


def bundle_name(
    name: str | None, version: str | None, inputs: Inputs, resolved: Sequence[Resolved]
) -> tuple[str, str]:
    """The bundle's name and version, as :func:`describe` gives them."""
    pins = [pin for r in resolved for pin in r.resolution.pins]
    return _name_and_version(name, version, inputs, pins, _source_date_epoch(inputs.files))


def _package(
    pin: Pin, wheel: Path, repaired: Repaired | None = None, builder: Python | None = None
) -> Package:
    return Package(
        name=pin.name,
        version=pin.version,
        wheel=wheel.name,
        sha256=sha256_file(wheel) if pin.kind != "wheel" or not pin.sha256 else pin.sha256,
        size=wheel.stat().st_size,
        origin=origin_of(pin),
        source_url=source_url_of(pin),
        source_sha256=pin.sha256,
        requires=pin.requires,
        license=license_from(pin.license_expression, pin.classifiers, pin.license)
        or wheel_license(wheel),
        repaired=repaired.platform if repaired else None,
        grafted=repaired.grafted if repaired else (),
        built_by=builder.label if builder else None,
    )


def _name_and_version(
    name: str | None, version: str | None, inputs: Inputs, pins: Sequence[Pin], epoch: int
) -> tuple[str, str]:
    """The options', else the one local project's, else the input folder's name and the date."""
    project_urls = {p.as_uri() for p in inputs.projects}
    project = next((p for p in pins if p.kind == "dir" and p.url in project_urls), None)
    name = name or (project.name if project and len(inputs.projects) == 1 else inputs.default_name)
    version = version or (
        project.version
        if project and len(inputs.projects) == 1
        else datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y.%m.%d")
    )
    for what, value in (("name", name), ("version", version)):
        if not _SAFE_NAME.match(value):
            raise UsageError(
                f"bundle {what} {value!r} cannot be used in a file name; pass --{what} with "
                "letters, digits, '.', '_', '+' or '-'"
            )
    return name, version


def _source_date_epoch(files: Sequence[InputFile]) -> int:
    """The one timestamp of the bundle: SOURCE_DATE_EPOCH, else the newest input file's mtime.

    Both are the same on every run with the same inputs, so the archive's bytes are too.
    """
    if value := os.environ.get("SOURCE_DATE_EPOCH"):
        try:
            return int(value)
        except ValueError as exc:
            raise UsageError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {value!r}"
            ) from exc
    mtimes = [int(Path(f.path).stat().st_mtime) for f in files if Path(f.path).exists()]
    return max(mtimes) if mtimes else int(time.time())
