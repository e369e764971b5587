"""The bundle's layout: the name of every member, in one place.

``pack`` writes bundles by these names (for ``make`` and ``merge``); ``verify``, ``inspect``,
``diff`` and ``pylock`` read them. Commands depend on this module, never on each other.
install.sh, run on the server, spells the same names (``SHA256SUMS``, ``wheels/``,
``support/``): the tests that install real bundles hold the two together.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.manifest import Manifest, TargetEntry

MANIFEST = "manifest.yaml"
SBOM = "sbom.cdx.json"
SUMS = "SHA256SUMS"
"""Every other member's sha256: the one file a signature covers."""
SIGNATURE = "SHA256SUMS.sig"
UNSUMMED = frozenset({SUMS, SIGNATURE})
"""The members SHA256SUMS cannot list: itself, and the signature of it."""
INSTALL_SH = "install.sh"
TARGETS_JSON = "support/targets.json"
WHEELS = "wheels/"
RUNTIMES = "runtime/"
"""``--python-runtime``: each target's interpreter archive, as published."""
RUNTIMES_TXT = "support/runtimes.txt"
"""One line per runtime, ``TARGET MACHINE GLIBC PYTHON MEMBER``: what install.sh reads before
it has a Python to read JSON with."""
PAYLOAD = {INSTALL_SH: "install.sh", "support/probe.py": "probe.py", "support/steps.py": "steps.py"}
"""Members copied from ``wheelbundle/payload`` as they are: the server side."""
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FORMATS = ("tar.gz",)
"""Archive formats (``--format``): tar.gz, which every server unpacks with tar and gzip alone."""


def wheel_member(wheel: str) -> str:
    return f"{WHEELS}{wheel}"


def runtime_member(file: str) -> str:
    return f"{RUNTIMES}{file}"


def lock_name(target: str, single: bool) -> str:
    """``requirements.lock`` for a bundle of one target, ``requirements-TARGET.lock`` for each
    of several."""
    return "requirements.lock" if single else f"requirements-{target}.lock"


def pylock_name(entry: TargetEntry) -> str:
    """``pylock.toml`` beside ``requirements.lock``; ``pylock.TARGET.toml`` beside the others."""
    if entry.lock == "requirements.lock":
        return "pylock.toml"
    return f"pylock.{entry.lock.removeprefix('requirements-').removesuffix('.lock')}.toml"


MAX_ARCHIVE_NAME = 200
"""File names stop at 255 bytes, and the archive is written under a longer temporary name
first: beyond this, the targets are named compactly."""


def archive_name(manifest: Manifest, archive_format: str = FORMATS[0]) -> str:
    """``NAME-VERSION-TARGET1+TARGET2.tar.gz``; a delta ends ``-since-OLDVERSION.tar.gz``.

    Many targets make too long a name: then they are written as wheel tags write sets,
    ``cp310.cp311-manylinux_2_28_x86_64.manylinux_2_28_aarch64`` (every Python on every
    platform), else counted (``8-targets``); the manifest names each in full.
    """
    since = f"-since-{manifest.base.version}" if manifest.base else ""
    names = [t.name for t in manifest.targets]
    for targets in ("+".join(names), _as_sets(names), f"{len(names)}-targets"):
        name = f"{manifest.top}-{targets}{since}.{archive_format}"
        if targets and len(name.encode()) <= MAX_ARCHIVE_NAME:
            return name
    return name


def _as_sets(names: list[str]) -> str:
    """``PYTHONS-PLATFORMS`` dot-joined, when the targets are exactly every pair of them."""
    pairs = [name.partition("-") for name in names]
    pythons = list(dict.fromkeys(p for p, _, _ in pairs))
    platforms = list(dict.fromkeys(rest for _, _, rest in pairs))
    if len(set(names)) != len(pythons) * len(platforms) or not all(platforms):
        return ""
    return f"{'.'.join(pythons)}-{'.'.join(platforms)}"


def read_manifest(path: Path) -> Manifest:
    with BundleArchive(path) as archive:
        return Manifest.from_yaml(archive.text(MANIFEST))


def epoch_of(manifest: Manifest) -> int:
    """The bundle's one timestamp, back from its manifest."""
    created = datetime.strptime(manifest.created, CREATED_FORMAT)
    return int(created.replace(tzinfo=timezone.utc).timestamp())


def runtimes_text(manifest: Manifest) -> str:
    """``support/runtimes.txt``, for a bundle with a runtime: one line per target, ``TARGET
    MACHINE GLIBC PYTHON MEMBER``, what install.sh checks with uname and getconf before it has
    a Python; ``-`` in each column for a target that uses the server's Python."""
    return "".join(
        f"{t.name} {t.runtime.machine} {t.runtime.glibc} {t.runtime.python} "
        f"{runtime_member(t.runtime.file)}\n"
        if t.runtime is not None
        else f"{t.name} - - - -\n"
        for t in manifest.targets
    )
