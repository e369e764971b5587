"""Packing: deterministic bytes, one top folder, and nothing left behind on failure."""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

import pytest

from wheelbundle.pack.write import Member, write_archive


def members(tmp_path: Path) -> list[Member]:
    wheel = tmp_path / "w-1.0-py3-none-any.whl"
    wheel.write_bytes(b"zip bytes")
    return [
        Member("install.sh", data=b"#!/bin/sh\n", executable=True),
        Member("wheels/w-1.0-py3-none-any.whl", path=wheel),
        Member("manifest.yaml", data=b"name: x\n"),
    ]


def test_the_same_members_give_the_same_bytes(tmp_path: Path) -> None:
    a = write_archive(tmp_path / "a" / "x.tar.gz", "x-1", members(tmp_path), mtime=1_700_000_000)
    b = write_archive(
        tmp_path / "b" / "x.tar.gz", "x-1", members(tmp_path)[::-1], mtime=1_700_000_000
    )
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_members_are_sorted_owned_by_root_and_dated_by_the_one_timestamp(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "x.tar.gz", "x-1", members(tmp_path), mtime=1_700_000_000)
    with tarfile.open(archive) as tar:
        infos = tar.getmembers()
    assert [m.name for m in infos] == [
        "x-1",
        "x-1/install.sh",
        "x-1/manifest.yaml",
        "x-1/wheels",
        "x-1/wheels/w-1.0-py3-none-any.whl",
    ]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in infos} == {
        (0, 0, "", "", 1_700_000_000)
    }
    modes = {m.name: m.mode for m in infos}
    assert modes["x-1/install.sh"] == 0o755
    assert modes["x-1/manifest.yaml"] == 0o644


def test_the_gzip_header_has_no_name_and_no_time(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "x.tar.gz", "x-1", members(tmp_path), mtime=1)
    header = archive.read_bytes()[:10]
    assert header[3] & 0x08 == 0  # FNAME flag unset
    assert header[4:8] == b"\0\0\0\0"  # MTIME zero
    assert gzip.decompress(archive.read_bytes())


def test_a_failure_while_writing_leaves_no_archive_and_no_temporary_file(tmp_path: Path) -> None:
    broken = [*members(tmp_path), Member("wheels/gone.whl", path=tmp_path / "missing.whl")]
    out = tmp_path / "dist"
    with pytest.raises(FileNotFoundError):
        write_archive(out / "x.tar.gz", "x-1", broken, mtime=1)
    assert list(out.iterdir()) == []


def test_an_interrupt_while_writing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "addfile", interrupted)
    out = tmp_path / "dist"
    with pytest.raises(KeyboardInterrupt):
        write_archive(out / "x.tar.gz", "x-1", members(tmp_path), mtime=1)
    assert list(out.iterdir()) == []


def test_the_archive_is_readable_by_others_as_the_umask_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    old = os.umask(0o022)
    try:
        archive = write_archive(tmp_path / "x.tar.gz", "x-1", members(tmp_path), mtime=1)
    finally:
        os.umask(old)
    assert archive.stat().st_mode & 0o777 == 0o644
