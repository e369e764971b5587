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


def archive_name(manifest: Manifest, archive_format: str = FORMATS[0]) -> str:
    """``NAME-VERSION-TARGET1+TARGET2.tar.gz``; a delta ends ``-since-OLDVERSION.tar.gz``."""
    since = f"-since-{manifest.base.version}" if manifest.base else ""
    targets = "+".join(t.name for t in manifest.targets)
    return f"{manifest.top}-{targets}{since}.{archive_format}"


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
