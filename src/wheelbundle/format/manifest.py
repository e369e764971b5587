"""The bundle's own description: the manifest, the hash-pinned lock and the checksums.

``manifest.yaml`` is for people and for ``bundle verify``/``inspect``/``diff``;
``requirements.lock`` is what pip installs from on the server; ``support/targets.json`` is the
same target facts for ``install.sh``, which has no YAML parser. Keys are written in a fixed order
so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from wheelbundle.errors import VerifyFailed
from wheelbundle.format.osv import Snapshot
from wheelbundle.format.pins import Pin

_SHA256 = re.compile(r"[0-9a-f]{64}")

FORMAT = 1
ORIGINS = ("index-wheel", "built-from-sdist", "built-from-vcs", "local")


def origin_of(pin: Pin) -> str:
    """Where a pin's wheel comes from, one of ``manifest.ORIGINS``."""
    if pin.kind == "wheel":
        return "local" if pin.url.startswith("file:") else "index-wheel"
    return {"sdist": "built-from-sdist", "vcs": "built-from-vcs", "dir": "local"}[pin.kind]


def source_url_of(pin: Pin) -> str:
    """What a pin's wheel was made from: its URL, or for a VCS pin the exact commit."""
    return f"{pin.vcs}+{pin.url}@{pin.vcs_commit}" if pin.kind == "vcs" else pin.url


#: libyaml's loader where PyYAML has it: ten times faster, and it reads the same values (tested).
#: Writing stays pure Python: libyaml folds some long strings differently, and the archive's
#: bytes must not depend on which one a machine has.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class GraftedLibrary:
    """A shared library a wheel built here links, copied into it by ``auditwheel repair``."""

    name: str
    """Its name where it came from: ``libpq.so.5``."""
    file: str
    """Its member in the wheel: ``psycopg2.libs/libpq-1a2b3c4d.so.5``."""
    sha256: str


@dataclass(frozen=True)
class Package:
    """One wheel in the bundle and where it came from."""

    name: str
    version: str
    wheel: str
    sha256: str
    size: int
    origin: str
    """One of ``ORIGINS``."""
    source_url: str
    source_sha256: str | None = None
    """The hash the index published for the file fetched (for a built wheel: its sdist's)."""
    requires: tuple[str, ...] = ()
    """``Requires-Dist`` of the wheel, for the dependency graph."""
    license: str | None = None
    """SPDX expression from the wheel's metadata; None when it does not say (never guessed)."""
    repaired: str | None = None
    """A wheel built here and repaired by auditwheel: the manylinux platform it was given."""
    grafted: tuple[GraftedLibrary, ...] = ()
    """The libraries that repair copied into it (``repaired`` only)."""
    built_by: str | None = None
    """A wheel another Python built, for a target of its version: its tag, version and where it
    was found (``cp39 3.9.18 (pyenv)``), never its path. None: the tool's own Python, or a
    download."""


@dataclass(frozen=True)
class Runtime:
    """A python-build-standalone interpreter the bundle carries (``--python-runtime``), for a
    server with no fitting Python; install.sh builds the venv from it."""

    file: str
    """Its archive's name, under ``runtime/`` in the bundle."""
    python: str
    """Its exact version: ``3.12.7``."""
    machine: str
    """``uname -m`` of the servers it runs on: ``x86_64``."""
    glibc: str
    """The oldest glibc it runs on (the highest symbol version it needs): ``2.17``."""
    sha256: str
    size: int
    source: str
    """The URL or file it came from."""


@dataclass(frozen=True)
class TargetEntry:
    """A server kind the bundle installs on, and the lock for it."""

    name: str
    """Archive tag: ``cp312-none-any`` (pure wheels) or ``cp312-manylinux_2_28_x86_64``."""
    implementation: str
    python_version: str
    interpreter: str
    platform: str
    """The most demanding platform tag among the wheels, ``any`` for a pure bundle."""
    lock: str
    wheels: tuple[str, ...]
    uv_wheel: str | None = None
    """``--installer uv``: the uv wheel install.sh runs to install the lock; never installed."""
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    """The marker environment the resolution was made for (PEP 508 names)."""
    decisions: Mapping[str, bool] = field(default_factory=dict, hash=False)
    """Each marker of the requirements and of every wheel's ``Requires-Dist``, and what it came
    to in ``environment``: install.sh refuses a server on which one comes out otherwise."""
    runtime: Runtime | None = None
    """``--python-runtime``: the interpreter the bundle carries for this target."""


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str
    lock: str | None = None
    """For the lock a bundle was made from: its tool and format version (``uv 1 (revision
    3)``, ``pylock.toml 1.0``), so a reviewer sees which lock, and which revision of it."""


@dataclass(frozen=True)
class Base:
    """A delta bundle's base: the earlier bundle whose wheels it does not carry again."""

    name: str
    version: str
    sums_sha256: str
    """The sha256 of the base's SHA256SUMS, which names every file of it: its identity."""
    wheels: tuple[str, ...]
    """The wheels this bundle takes from the base (same name, same sha256)."""


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    tool_version: str
    created: str
    pip_version: str
    targets: tuple[TargetEntry, ...]
    inputs: tuple[InputFile, ...]
    packages: tuple[Package, ...]
    format: int = FORMAT
    base: Base | None = None
    """A delta bundle (``bundle make --since``): what it expects from the earlier bundle."""
    audit: Snapshot | None = None
    """``bundle make --policy … --osv``: the copy of the OSV database the bundle was judged
    against (its file's name, not its path)."""

    @property
    def top(self) -> str:
        """The archive's one top-level folder."""
        return f"{self.name}-{self.version}"

    def to_yaml(self) -> str:
        data: dict[str, Any] = {
            "format": self.format,
            "name": self.name,
            "version": self.version,
            "tool": {"name": "wheelbundle", "version": self.tool_version},
            "created": self.created,
            "pip_version": self.pip_version,
            "targets": [_target_plain(t) for t in self.targets],
            "inputs": [_input_plain(i) for i in self.inputs],
            "packages": [_package_plain(p) for p in self.packages],
        }
        if self.base is not None:
            data["base"] = _plain(self.base)
        if self.audit is not None:
            data["audit"] = self.audit.as_json()
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=200)

    @classmethod
    def from_yaml(cls, text: str) -> Manifest:
        """Parse a manifest; a wrong shape is a VerifyFailed naming what is wrong."""
        try:
            data = yaml.load(text, Loader=_LOADER)
            return cls(
                format=int(data["format"]),
                name=str(data["name"]),
                version=str(data["version"]),
                tool_version=str(data["tool"]["version"]),
                created=str(data["created"]),
                pip_version=str(data["pip_version"]),
                targets=tuple(_target(t) for t in data["targets"]),
                inputs=tuple(InputFile(**i) for i in data["inputs"]),
                packages=tuple(_package(p) for p in data["packages"]),
                base=_base(data["base"]) if "base" in data else None,
                audit=Snapshot(**data["audit"]) if "audit" in data else None,
            )
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            raise VerifyFailed(f"manifest.yaml is not a valid bundle manifest: {exc}") from exc

    def targets_json(self, pip_wheel: str) -> str:
        """The facts install.sh needs, in a format its Python can read without YAML."""
        data = {
            "format": self.format,
            "name": self.name,
            "version": self.version,
            "pip_wheel": pip_wheel,
            "targets": [_target_plain(t) for t in self.targets],
        }
        if self.base is not None:  # with each wheel's size, which bounds its copy from the base
            sizes = {p.wheel: p.size for p in self.packages if p.wheel in self.base.wheels}
            data["base"] = {**_plain(self.base), "sizes": sizes}
        return json.dumps(data, indent=2) + "\n"

    def lock_text(self, target: TargetEntry) -> str:
        """``name==version --hash=sha256:…`` for every wheel the target installs."""
        wheels = set(target.wheels)
        lines = [
            f"# {self.name} {self.version} for {target.name}, made by wheelbundle {self.tool_version}",
            "# pip install --no-index --find-links wheels --require-hashes -r " + target.lock,
        ]
        lines += [
            f"{p.name}=={p.version} --hash=sha256:{p.sha256}"
            for p in self.packages
            if p.wheel in wheels
        ]
        return "\n".join(lines) + "\n"


def _plain(obj: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(obj).items()}


def _input_plain(file: InputFile) -> dict[str, Any]:
    """An input as it was before locks were recorded, when it is not the lock."""
    return {k: v for k, v in _plain(file).items() if v is not None or k != "lock"}


def _target_plain(target: TargetEntry) -> dict[str, Any]:
    """A target entry; ``runtime`` only when it carries one, so others read as before."""
    plain = _plain(target)
    if target.runtime is None:
        del plain["runtime"]
    return plain


def _target(entry: dict[str, Any]) -> TargetEntry:
    runtime = Runtime(**entry["runtime"]) if entry.get("runtime") else None
    if runtime is not None and not _SHA256.fullmatch(str(runtime.sha256)):
        raise ValueError(f"runtime {runtime.file}: sha256 {runtime.sha256!r} is not a sha256")
    return TargetEntry(**{**entry, "wheels": tuple(entry["wheels"]), "runtime": runtime})


def _package_plain(package: Package) -> dict[str, Any]:
    """A package entry; the repair keys only for a repaired wheel, so others read as before."""
    plain = _plain(package)
    if package.repaired is None:
        del plain["repaired"], plain["grafted"]
    if package.built_by is None:
        del plain["built_by"]
    return plain


def pip_wheel_of(packages: Iterable[Package]) -> str:
    for p in packages:
        if p.name == "pip":
            return p.wheel
    raise VerifyFailed("the bundle carries no pip wheel")


def _base(entry: dict[str, Any]) -> Base:
    base = Base(**{**entry, "wheels": tuple(entry["wheels"])})
    if not isinstance(base.sums_sha256, str) or not _SHA256.fullmatch(base.sums_sha256):
        raise ValueError(f"base: sums_sha256 {base.sums_sha256!r} is not a sha256")
    return base


def _package(entry: dict[str, Any]) -> Package:
    """One ``packages`` entry, its sizes and hashes of the types every reader relies on."""
    grafted = tuple(GraftedLibrary(**g) for g in entry.get("grafted", ()))
    package = Package(**{**entry, "requires": tuple(entry.get("requires", ())), "grafted": grafted})
    if type(package.size) is not int or package.size < 0:
        raise ValueError(f"{package.wheel}: size {package.size!r} is not a number of bytes")
    if not isinstance(package.sha256, str) or not _SHA256.fullmatch(package.sha256):
        raise ValueError(f"{package.wheel}: sha256 {package.sha256!r} is not a sha256")
    return package
