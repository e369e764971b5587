"""``bundle index``: bundles' wheels as a static index that pip installs from with no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, flip_one_byte, make_archive, read_member, rewrite
from support.index import LocalIndex, serve_folder

from wheelbundle.net.simple import links


@pytest.fixture
def two_bundles(tmp_path: Path, index: LocalIndex) -> tuple[Path, Path]:
    """alpha with beta 2.0, which it needs; and beta 1.0 alone: two files of one project."""
    first = make_archive(tmp_path / "one", index.url, "alpha")
    second = make_archive(tmp_path / "two", index.url, "beta==1.0")
    return first, second


def test_pip_installs_from_the_index_offline_reading_metadata_not_wheels(
    capsys: pytest.CaptureFixture[str],
    two_bundles: tuple[Path, Path],
    tmp_path: Path,
    offline: Any,
) -> None:
    first, second = two_bundles
    out = tmp_path / "site"
    made = bundle(capsys, "index", out, first)
    assert made.code == 0, made.err
    url = made.out.strip().splitlines()[-1]
    assert url == (out / "simple").resolve().as_uri() + "/"
    assert bundle(capsys, "index", out, second).code == 0  # a later bundle, added in place

    page = (out / "simple/beta/index.html").read_text()
    old, link = links(page, (out / "simple/beta").as_uri() + "/")
    assert (old.filename, link.filename) == (
        "beta-1.0-py3-none-any.whl",
        "beta-2.0-py3-none-any.whl",
    )
    wheel = out / "files" / link.filename
    assert link.url == wheel.as_uri()
    assert link.sha256 == _sha256(wheel)
    assert link.metadata == {"sha256": _sha256(out / "files" / f"{link.filename}.metadata")}
    listing = json.loads((out / "simple/index.json").read_text())
    assert {"alpha", "beta", "pip"} <= {p["name"] for p in listing["projects"]}
    assert json.loads((out / "simple/beta/index.json").read_text())["files"][1]["hashes"] == {
        "sha256": link.sha256
    }

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "--isolated", "--disable-pip-version-check"]
    with serve_folder(out) as http:  # any static web server: here the standard library's
        resolved = subprocess.run(
            [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run",
             "--ignore-installed", "--index-url", f"{http}/simple/", "alpha"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    assert ".whl.metadata" in resolved.stdout  # pip read each wheel's metadata (PEP 658)…
    assert ".whl (" not in resolved.stdout  # …and downloaded no wheel to resolve
    installed = offline([*pip, "install", "--index-url", url, "alpha"])
    assert installed.returncode == 0, installed.stderr
    check = offline([venv / "bin/python", "-c", "import alpha, beta; print(beta.__version__)"])
    assert check.stdout.strip() == "2.0", check.stderr


def test_a_damaged_bundle_adds_nothing(
    capsys: pytest.CaptureFixture[str], two_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = two_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    before = sorted(p.name for p in (out / "files").iterdir())
    member = next(m for m in _members(second) if m.startswith("wheels/beta"))
    bad = rewrite(
        second, tmp_path / "bad.tar.gz", {member: flip_one_byte(read_member(second, member))}
    )
    refused = bundle(capsys, "index", out, first, bad)
    assert refused.code == 3
    assert f"{member}: checksum mismatch" in refused.err
    assert sorted(p.name for p in (out / "files").iterdir()) == before


def test_another_file_under_a_name_the_index_holds_is_refused(
    capsys: pytest.CaptureFixture[str], two_bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    first, _ = two_bundles
    out = tmp_path / "site"
    assert bundle(capsys, "index", out, first).code == 0
    alpha = next((out / "files").glob("alpha-*.whl"))
    alpha.write_bytes(alpha.read_bytes() + b"\0")  # someone else's file of that name
    refused = bundle(capsys, "index", out, first)
    assert refused.code == 1
    assert f"{alpha.name} differs from the file of that name already in" in refused.err


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _members(archive: Path) -> list[str]:
    import tarfile

    with tarfile.open(archive) as tar:
        return [m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name]
