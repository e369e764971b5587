"""``bundle verify``: everything that can be checked without installing, first failure named."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wheelbundle.archive import BundleArchive
from wheelbundle.errors import VerifyFailed
from wheelbundle.layout import (
    MANIFEST,
    SIGNATURE,
    SUMS,
    UNSUMMED,
    WHEELS,
    pylock_name,
    wheel_member,
)
from wheelbundle.manifest import Manifest, parse_sha256sums
from wheelbundle.pylock import pylock_wheels
from wheelbundle.sign import require_allowed_signers, verify
from wheelbundle.wheelcheck import check_wheel

_LOCK_LINE = re.compile(r"^(\S+)==(\S+) --hash=sha256:([0-9a-f]{64})$")


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    signed: bool
    """The bundle carries SHA256SUMS.sig (checked only when allowed signers were given)."""
    signer: str | None = None
    """The principal of allowed_signers whose key made the signature, when it was checked."""


def verify_bundle(path: Path, allowed_signers: Path | None = None) -> Verified:
    """Check everything that can be checked without installing; VerifyFailed at the first miss.

    With ``allowed_signers`` the bundle must also carry a signature of SHA256SUMS by one of its
    keys; it is checked first, so every later check rests on signed hashes.
    """
    if allowed_signers is not None:
        require_allowed_signers(allowed_signers)
    with BundleArchive(path) as archive:
        signed = SIGNATURE in archive.files
        signer = None
        if allowed_signers is not None:
            if not signed:
                raise VerifyFailed(
                    f"{SIGNATURE}: the bundle is not signed, and allowed signers were given"
                )
            signer = verify(archive.read(SUMS), archive.read(SIGNATURE), allowed_signers)
        _check_sums(archive)
        manifest = Manifest.from_yaml(archive.text(MANIFEST))
        if archive.top != manifest.top:
            raise VerifyFailed(
                f"{archive.top}/: the top folder should be {manifest.top}/ by the manifest"
            )
        _check_manifest(archive, manifest)
        _check_locks(archive, manifest)
        _check_pylocks(archive, manifest)
        _check_uv_wheels(manifest)
        with tempfile.TemporaryDirectory(prefix="wheelbundle-verify-") as tmp:
            for package in manifest.packages:
                name = wheel_member(package.wheel)
                wheel = archive.copy_to(name, Path(tmp))
                check_wheel(wheel, name)
                wheel.unlink()
    return Verified(manifest, signed, signer)


def _check_sums(archive: BundleArchive) -> None:
    sums = parse_sha256sums(archive.text(SUMS))
    for name in sorted(archive.files):
        if name not in UNSUMMED and name not in sums:
            raise VerifyFailed(
                f"{name}: not listed in SHA256SUMS (added after the bundle was made)"
            )
    for name, digest in sorted(sums.items()):
        if name not in archive.files:
            raise VerifyFailed(f"{name}: listed in SHA256SUMS but missing from the bundle")
        if archive.sha256(name) != digest:
            raise VerifyFailed(
                f"{name}: checksum mismatch (the file, or its line in SHA256SUMS, changed since the bundle was made)"
            )


def _check_manifest(archive: BundleArchive, manifest: Manifest) -> None:
    wheels = {n for n in archive.files if n.startswith(WHEELS)}
    listed = {wheel_member(p.wheel) for p in manifest.packages}
    for name in sorted(wheels ^ listed):
        where = (
            "in the bundle but not in the manifest"
            if name in wheels
            else "in the manifest but missing"
        )
        raise VerifyFailed(f"{name}: {where}")
    for p in manifest.packages:
        name = wheel_member(p.wheel)
        if archive.sha256(name) != p.sha256:
            raise VerifyFailed(f"{name}: does not match its sha256 in manifest.yaml")
        if archive.files[name].size != p.size:
            raise VerifyFailed(f"{name}: its size differs from manifest.yaml")


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
