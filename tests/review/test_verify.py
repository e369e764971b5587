"""``bundle verify``: intact bundles pass; any change, and any unsafe archive, is named and refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import (
    Outcome,
    bundle,
    flip_one_byte,
    read_member,
    requirements,
    rewrite,
    unpack,
    with_member,
)
from support.index import LocalIndex
from support.packages import pip_wheel_name

from wheelbundle.errors import VerifyFailed
from wheelbundle.review.verify import verify_bundle

PIP_WHEEL = pip_wheel_name()
"""The pip every bundle carries: the fixture index serves this Python's ensurepip's."""


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, index: LocalIndex) -> Path:
    """One real bundle of alpha (and beta, pip), made once for the module."""
    from wheelbundle.cli import main

    tmp = tmp_path_factory.mktemp("good")
    req = requirements(tmp / "app", "alpha", "gamma")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", "/dev/null")
        assert (
            main(["make", str(req), "-o", str(tmp / "dist"), "--index-url", index.url, "-q"]) == 0
        )
    (archive,) = (tmp / "dist").glob("*.tar.gz")
    return archive


def test_a_fresh_bundle_verifies(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = bundle(capsys, "verify", good)
    assert outcome.code == 0, outcome.err
    assert "OK, 4 wheels" in outcome.out


@pytest.mark.parametrize(
    "member",
    [
        "wheels/alpha-1.0-py3-none-any.whl",
        "manifest.yaml",
        "install.sh",
        "requirements.lock",
        "pylock.toml",
        "sbom.cdx.json",
        "support/probe.py",
    ],
)
def test_flipping_one_byte_of_any_member_is_named(good: Path, tmp_path: Path, member: str) -> None:
    bad = rewrite(good, tmp_path / "bad.tar.gz", {member: flip_one_byte(read_member(good, member))})
    with pytest.raises(VerifyFailed, match=f"^{member}: checksum mismatch"):
        verify_bundle(bad)


def test_a_changed_sha256sums_is_caught_by_the_manifest(good: Path, tmp_path: Path) -> None:
    sums = read_member(good, "SHA256SUMS").decode()
    wheel = "wheels/beta-2.0-py3-none-any.whl"
    new = rewrite(good, tmp_path / "w.tar.gz", {wheel: b"not a wheel"})
    import hashlib

    line = next(ln for ln in sums.splitlines() if ln.endswith(wheel))
    forged = sums.replace(line, f"{hashlib.sha256(b'not a wheel').hexdigest()}  {wheel}")
    bad = rewrite(new, tmp_path / "bad.tar.gz", {"SHA256SUMS": forged.encode()})
    with pytest.raises(VerifyFailed, match=f"^{wheel}: does not match its sha256 in manifest.yaml"):
        verify_bundle(bad)


def test_an_added_file_is_refused(good: Path, tmp_path: Path) -> None:
    bad = with_member(good, tmp_path / "bad.tar.gz", "wheels/evil-1.0-py3-none-any.whl", b"bad")
    with pytest.raises(VerifyFailed, match="evil-1.0-py3-none-any.whl: not listed in SHA256SUMS"):
        verify_bundle(bad)


def test_a_wheel_whose_record_lies_is_refused(tmp_path: Path) -> None:
    from wheelbundle.format.wheelcheck import check_wheel

    wheel = tmp_path / "liar-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("liar/__init__.py", "print('changed after RECORD was written')\n")
        zf.writestr(
            "liar-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: liar\nVersion: 1.0\n"
        )
        zf.writestr(
            "liar-1.0.dist-info/RECORD",
            "liar/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,10\n"
            "liar-1.0.dist-info/METADATA,,\nliar-1.0.dist-info/RECORD,,\n",
        )
    with pytest.raises(
        VerifyFailed, match="liar/__init__.py does not match the hash in its RECORD"
    ):
        check_wheel(wheel, "wheels/liar-1.0-py3-none-any.whl")


def hand_made(path: Path, entries: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in entries:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info


def setuid(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o4755
    return info


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("b-1/SHA256SUMS"), entry("b-1/../../etc/passwd")], "unsafe path"),
        ([entry("/etc/passwd")], "unsafe path"),
        (
            [entry("b-1/SHA256SUMS"), entry("b-1/link", tarfile.SYMTYPE, link="/etc/passwd")],
            "links and special files",
        ),
        (
            [entry("b-1/SHA256SUMS"), entry("b-1/hard", tarfile.LNKTYPE, link="b-1/SHA256SUMS")],
            "links and special files",
        ),
        ([entry("b-1/SHA256SUMS"), entry("b-1/dev", tarfile.CHRTYPE)], "links and special files"),
        ([entry("b-1/SHA256SUMS"), setuid(entry("b-1/install.sh"))], "a setuid or setgid file"),
        ([entry("b-1/SHA256SUMS"), entry("b-1/SHA256SUMS")], "listed twice"),
        ([entry("a-1/SHA256SUMS"), entry("b-1/SHA256SUMS")], "exactly one top folder"),
    ],
)
def test_unsafe_archives_are_refused(
    tmp_path: Path, entries: list[tarfile.TarInfo], message: str
) -> None:
    with pytest.raises(VerifyFailed, match=message):
        verify_bundle(hand_made(tmp_path / "evil.tar.gz", entries))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]


def test_not_an_archive_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    outcome: Outcome = bundle(capsys, "verify", junk)
    assert outcome.code == 3
    assert outcome.err.startswith("error: ") and "not a readable tar archive" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1


def test_a_verified_bundle_unpacks_to_the_contract_layout(good: Path, tmp_path: Path) -> None:
    top = unpack(good, tmp_path / "server")
    assert sorted(str(p.relative_to(top)) for p in top.rglob("*")) == [
        "SHA256SUMS",
        "install.sh",
        "manifest.yaml",
        "pylock.toml",
        "requirements.lock",
        "sbom.cdx.json",
        "support",
        "support/probe.py",
        "support/steps.py",
        "support/targets.json",
        "wheels",
        "wheels/alpha-1.0-py3-none-any.whl",
        "wheels/beta-2.0-py3-none-any.whl",
        "wheels/gamma-1.0-py3-none-any.whl",
        f"wheels/{PIP_WHEEL}",
    ]


def test_flipping_one_byte_of_sha256sums_is_named(good: Path, tmp_path: Path) -> None:
    sums = read_member(good, "SHA256SUMS")
    line = sums.decode().splitlines()[0]
    bad = rewrite(good, tmp_path / "bad.tar.gz", {"SHA256SUMS": flip_one_byte(sums, at=3)})
    with pytest.raises(
        VerifyFailed, match=f"^{line.split('  ')[1]}: checksum mismatch .*SHA256SUMS"
    ):
        verify_bundle(bad)


@pytest.mark.parametrize(
    "member",
    [
        "wheels/alpha-1.0-py3-none-any.whl",
        "manifest.yaml",
        "SHA256SUMS",
        "requirements.lock",
        "support/probe.py",
    ],
)
def test_install_sh_refuses_a_bundle_with_any_byte_flipped(
    good: Path, tmp_path: Path, member: str, offline: Any
) -> None:
    top = unpack(good, tmp_path / "server")
    target = top / member
    data = target.read_bytes()
    target.write_bytes(flip_one_byte(data, at=3 if member == "SHA256SUMS" else 40))
    venv = tmp_path / "venv"
    refused = offline([top / "install.sh", venv])
    assert refused.returncode != 0
    assert "checksum mismatch" in refused.stderr or "SHA256SUMS" in refused.stderr, refused.stderr
    assert not venv.exists() and not venv.is_symlink()
