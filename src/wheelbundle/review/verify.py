"""``bundle verify``: everything that can be checked without installing, first failure named."""

from __future__ import annotations

import re
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.errors import VerifyFailed
from wheelbundle.format.archive import BundleArchive
from wheelbundle.format.checksums import parse_sha256sums
from wheelbundle.format.layout import (
    MANIFEST,
    RUNTIMES,
    RUNTIMES_TXT,
    SIGNATURE,
    SUMS,
    UNSUMMED,
    WHEELS,
    pylock_name,
    runtime_member,
    runtimes_text,
    wheel_member,
)
from wheelbundle.format.manifest import Manifest
from wheelbundle.format.members import RUNTIME_TOP, check_stream
from wheelbundle.format.pylock import pylock_wheels
from wheelbundle.format.sign import require_allowed_signers, verify
from wheelbundle.format.wheelcheck import check_wheel

_LOCK_LINE = re.compile(r"^(\S+)==(\S+) --hash=sha256:([0-9a-f]{64})$")


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    signed: bool
    """The bundle carries SHA256SUMS.sig (checked only when allowed signers were given)."""
    signer: str | None = None
    """The principal of allowed_signers whose key made the signature, when it was checked."""


def verify_bundle(
    path: Path, allowed_signers: Path | None = None, base: Path | None = None
) -> Verified:
    """Check everything that can be checked without installing; VerifyFailed at the first miss.

    With ``allowed_signers`` the bundle must also carry a signature of SHA256SUMS by one of its
    keys; it is checked first, so every later check rests on signed hashes. A delta bundle is
    checked whole with ``base``, the bundle it takes its other wheels from; without it, all but
    those wheels are checked.
    """
    if allowed_signers is not None:
        require_allowed_signers(allowed_signers)
    with BundleArchive(path) as archive, ExitStack() as stack:
        signed = SIGNATURE in archive.files
        signer = None
        if allowed_signers is not None:
            if not signed:
                raise VerifyFailed(
                    f"{SIGNATURE}: the bundle is not signed, and allowed signers were given"
                )
            signer = verify(archive.read(SUMS), archive.read(SIGNATURE), allowed_signers)
        # The manifest says what a delta leaves out: it is checked, then read, before the rest.
        _check_member(archive, MANIFEST, parse_sha256sums(archive.text(SUMS)).get(MANIFEST))
        manifest = Manifest.from_yaml(archive.text(MANIFEST))
        wheels = _Wheels(archive, _base(manifest, base, stack))
        _check_sums(archive, wheels)
        if archive.top != manifest.top:
            raise VerifyFailed(
                f"{archive.top}/: the top folder should be {manifest.top}/ by the manifest"
            )
        _check_manifest(wheels, manifest)
        _check_locks(archive, manifest)
        _check_pylocks(archive, manifest)
        _check_uv_wheels(manifest)
        _check_runtimes(archive, manifest)
        with tempfile.TemporaryDirectory(prefix="wheelbundle-verify-") as tmp:
            for package in manifest.packages:
                name = wheel_member(package.wheel)
                if (source := wheels.source(name)) is None:
                    continue  # a delta's wheel from a base not given: its sha256 is all we have
                wheel = source.copy_to(name, Path(tmp))
                check_wheel(wheel, name)
                wheel.unlink()
    return Verified(manifest, signed, signer)


class _Wheels:
    """Where each wheel member is: in the bundle, or (a delta's) in its base, if given."""

    def __init__(self, archive: BundleArchive, base: tuple[BundleArchive | None, frozenset[str]]):
        self.archive = archive
        self.base, self.carried = base

    def source(self, name: str) -> BundleArchive | None:
        if name in self.carried:
            return self.base
        return self.archive if name in self.archive.files else None

    def expected(self, name: str) -> bool:
        """Listed but absent, as a delta leaves out its base's wheels."""
        return name in self.carried and name not in self.archive.files


def _base(
    manifest: Manifest, path: Path | None, stack: ExitStack
) -> tuple[BundleArchive | None, frozenset[str]]:
    """The base of a delta, checked to be the one it was made against; its carried members."""
    if manifest.base is None:
        if path is not None:
            raise VerifyFailed(f"the bundle is a full bundle, not a delta: it needs no base {path}")
        return None, frozenset()
    carried = frozenset(wheel_member(w) for w in manifest.base.wheels)
    if path is None:
        return None, carried
    base = stack.enter_context(BundleArchive(path))
    if base.sha256(SUMS) != manifest.base.sums_sha256:
        raise VerifyFailed(
            f"{path} is not the bundle this delta was made against ({manifest.base.name} "
            f"{manifest.base.version}, whose SHA256SUMS has sha256 {manifest.base.sums_sha256})"
        )
    return base, carried


def _check_sums(archive: BundleArchive, wheels: _Wheels) -> None:
    sums = parse_sha256sums(archive.text(SUMS))
    for name in sorted(archive.files):
        if name not in UNSUMMED and name not in sums:
            raise VerifyFailed(
                f"{name}: not listed in SHA256SUMS (added after the bundle was made)"
            )
    for name, digest in sorted(sums.items()):
        if wheels.expected(name):
            if wheels.base is not None and wheels.base.sha256(name) != digest:
                raise VerifyFailed(f"{name}: the base's file differs from this bundle's SHA256SUMS")
            continue
        _check_member(archive, name, digest)


def _check_member(archive: BundleArchive, name: str, digest: str | None) -> None:
    if name not in archive.files:
        raise VerifyFailed(f"{name}: listed in SHA256SUMS but missing from the bundle")
    if archive.sha256(name) != digest:
        raise VerifyFailed(
            f"{name}: checksum mismatch (the file, or its line in SHA256SUMS, changed since the bundle was made)"
        )


def _check_manifest(wheels: _Wheels, manifest: Manifest) -> None:
    archive = wheels.archive
    present = {n for n in archive.files if n.startswith(WHEELS)} | set(wheels.carried)
    listed = {wheel_member(p.wheel) for p in manifest.packages}
    if stray := sorted(wheels.carried - listed):
        raise VerifyFailed(f"manifest.yaml: base wheel {stray[0]} is not one of its packages")
    for name in sorted(present ^ listed):
        where = (
            "in the bundle but not in the manifest"
            if name in present
            else "in the manifest but missing"
        )
        raise VerifyFailed(f"{name}: {where}")
    for p in manifest.packages:
        name = wheel_member(p.wheel)
        if (source := wheels.source(name)) is None:
            continue
        if source.sha256(name) != p.sha256:
            raise VerifyFailed(f"{name}: does not match its sha256 in manifest.yaml")
        if source.files[name].size != p.size:
            raise VerifyFailed(f"{name}: its size differs from manifest.yaml")


def _check_runtimes(archive: BundleArchive, manifest: Manifest) -> None:
    """The runtimes the targets name are the ones carried, with their hashes and sizes, every
    member safe to unpack, and support/runtimes.txt tells install.sh the same."""
    runtimes = {runtime_member(t.runtime.file): t.runtime for t in manifest.targets if t.runtime}
    carried = {n for n in archive.files if n.startswith(RUNTIMES)}
    for name in sorted(carried ^ runtimes.keys()):
        where = (
            "in the bundle but not in the manifest"
            if name in carried
            else "in the manifest but missing"
        )
        raise VerifyFailed(f"{name}: {where}")
    for name, runtime in runtimes.items():
        if archive.sha256(name) != runtime.sha256 or archive.files[name].size != runtime.size:
            raise VerifyFailed(f"{name}: does not match its sha256 and size in manifest.yaml")
        with archive.open(name) as stream:
            try:
                check_stream(stream, RUNTIME_TOP, name)
            except ValueError as exc:  # a member install.sh would refuse to unpack
                raise VerifyFailed(str(exc)) from exc
    expected = runtimes_text(manifest) if runtimes else None
    found = archive.text(RUNTIMES_TXT) if RUNTIMES_TXT in archive.files else None
    if found != expected:
        raise VerifyFailed(f"{RUNTIMES_TXT}: does not name the runtimes of manifest.yaml")


def _check_uv_wheels(manifest: Manifest) -> None:
    """A target that installs with uv names a uv wheel the bundle carries."""
    names = {p.wheel: p.name for p in manifest.packages}
    for target in manifest.targets:
        if target.uv_wheel is not None and names.get(target.uv_wheel) != "uv":
            raise VerifyFailed(
                f"manifest.yaml: target {target.name} installs with wheels/{target.uv_wheel}, "
                "which is not a uv wheel in the bundle"
            )


def _check_locks(archive: BundleArchive, manifest: Manifest) -> None:
    by_wheel = {p.wheel: p for p in manifest.packages}
    for target in manifest.targets:
        expected = {
            (by_wheel[w].name, by_wheel[w].version, by_wheel[w].sha256) for w in target.wheels
        }
        found = set()
        for line in archive.text(target.lock).splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = _LOCK_LINE.match(line)
            if not m:
                raise VerifyFailed(f"{target.lock}: malformed line {line!r}")
            found.add((m[1], m[2], m[3]))
        if found != expected:
            raise VerifyFailed(
                f"{target.lock}: does not list exactly the wheels of target {target.name} in the manifest"
            )


def _check_pylocks(archive: BundleArchive, manifest: Manifest) -> None:
    """Each target's PEP 751 lock names exactly its wheels, by path in the bundle and hash."""
    by_wheel = {p.wheel: p for p in manifest.packages}
    for target in manifest.targets:
        name = pylock_name(target)
        if name not in archive.files:
            raise VerifyFailed(f"{name}: missing from the bundle")
        expected = {
            (by_wheel[w].name, by_wheel[w].version, wheel_member(w), by_wheel[w].sha256)
            for w in target.wheels
        }
        try:
            found = pylock_wheels(archive.text(name))
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerifyFailed(f"{name}: not a valid pylock.toml ({exc})") from exc
        if found != expected:
            raise VerifyFailed(
                f"{name}: does not list exactly the wheels of target {target.name} in the manifest"
            )
