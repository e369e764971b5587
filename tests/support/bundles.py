"""Helpers shared by the tests that make real bundles."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from wheelbundle.cli import main


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def archive(self) -> Path:
        """The contract: the archive's path is the last line of stdout."""
        return Path(self.out.strip().splitlines()[-1])


def bundle(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Outcome:
    """Run ``bundle ARGS`` in-process, as a script would, and keep what it printed."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def requirements(folder: Path, *lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack as an operator would (``tar xzf``); return the bundle's top folder."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    (top,) = dest.iterdir()
    return top


def with_member(archive: Path, dest: Path, name: str, data: bytes) -> Path:
    """A copy of ``archive`` with one more file, ``name`` below its top folder: an added file."""
    with tarfile.open(archive) as src, tarfile.open(dest, "w:gz") as out:
        top = src.getmembers()[0].name
        for info in src.getmembers():
            out.addfile(info, src.extractfile(info) if info.isfile() else None)
        extra = tarfile.TarInfo(f"{top}/{name}")
        extra.size = len(data)
        out.addfile(extra, io.BytesIO(data))
    return dest


def member_names(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return sorted(m.name for m in tar.getmembers())


def make_archive(folder: Path, index_url: str, *lines: str, args: tuple[str, ...] = ()) -> Path:
    """``bundle make`` of a requirements file with ``lines`` in ``folder``, from one index only."""
    req = requirements(folder / "app", *lines)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", "/dev/null")
        code = main(
            ["make", str(req), "-o", str(folder / "dist"), "--index-url", index_url, "-q", *args]
        )
    assert code == 0
    (archive,) = (folder / "dist").glob("*.tar.gz")
    return archive


def secrets_found(
    secrets: Iterable[str], archive: Path, folders: Iterable[Path] = (), **texts: str
) -> list[str]:
    """Every place one of ``secrets`` shows: an archive member, a file under ``folders``, a text.

    Members and files are read as bytes (the archive decompressed), so nothing hides in binary.
    """
    needles = [s.encode() for s in secrets]
    found: list[str] = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member)
            content = data.read() if data else b""
            found += [f"{member.name}: {n.decode()}" for n in needles if n in content]
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            content = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in needles if n in content]
    for name, text in texts.items():
        found += [f"{name}: {n.decode()}" for n in needles if n in text.encode()]
    return found


def rewrite(source: Path, dest: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of the archive with some members' bytes replaced (None drops the member)."""
    with tarfile.open(source) as src, tarfile.open(dest, "w:gz") as out:
        for info in src.getmembers():
            rel = info.name.split("/", 1)[1] if "/" in info.name else ""
            if rel in change:
                data = change[rel]
                if data is None:
                    continue
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            else:
                out.addfile(info, src.extractfile(info) if info.isfile() else None)
    return dest


def read_member(archive: Path, rel: str) -> bytes:
    """One member's bytes, named below the archive's top folder."""
    with tarfile.open(archive) as tar:
        top = tar.getmembers()[0].name.split("/")[0]
        stream = tar.extractfile(f"{top}/{rel}")
        assert stream is not None
        return stream.read()


def flip_one_byte(data: bytes, at: int = 40) -> bytes:
    """The same bytes with one bit changed: tampering at its smallest."""
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
