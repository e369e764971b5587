"""Delta bundles: a release that carries only the wheels its base did not, installed with --base."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, make_archive, member_names, unpack
from support.index import LocalIndex

from wheelbundle.format.layout import read_manifest


@pytest.fixture
def releases(tmp_path: Path, index: LocalIndex) -> tuple[Path, Path]:
    """app 1.0 (alpha, beta, pip), then app 1.1, which adds epsilon, as a delta from 1.0."""
    old = make_archive(tmp_path / "one", index.url, "alpha", args=("--version", "1.0"))
    new = make_archive(
        tmp_path / "two",
        index.url,
        "alpha",
        "epsilon",
        args=("--version", "1.1", "--since", str(old)),
    )
    return old, new


def test_a_delta_carries_only_new_wheels_and_names_its_base(releases: tuple[Path, Path]) -> None:
    old, new = releases
    assert new.name.endswith("-since-1.0.tar.gz")
    wheels = [m.split("/", 1)[1] for m in member_names(new) if "/wheels/" in m]
    assert wheels == ["wheels/epsilon-1.0-py3-none-any.whl"]
    manifest = read_manifest(new)
    assert manifest.base is not None
    with tarfile.open(old) as tar:
        sums = tar.extractfile(f"{tar.getnames()[0]}/SHA256SUMS")
        assert sums is not None
        identity = hashlib.sha256(sums.read()).hexdigest()
    assert (manifest.base.name, manifest.base.version, manifest.base.sums_sha256) == (
        "app",
        "1.0",
        identity,
    )
    assert len(manifest.base.wheels) == len(manifest.packages) - 1  # all but epsilon
    top = unpack(new, new.parent / "look")
    listed = [line.split("  ")[1] for line in (top / "SHA256SUMS").read_text().splitlines()]
    assert {f"wheels/{p.wheel}" for p in manifest.packages} <= set(listed)


def test_verify_checks_a_delta_whole_with_its_base_and_refuses_another(
    capsys: pytest.CaptureFixture[str],
    releases: tuple[Path, Path],
    tmp_path: Path,
    index: LocalIndex,
) -> None:
    old, new = releases
    alone = bundle(capsys, "verify", new)  # what it carries
    assert alone.code == 0
    assert alone.out.strip().endswith(
        "a delta: the 3 wheels it takes from app 1.0 were not checked (--base OLD checks them)"
    )
    whole = bundle(capsys, "verify", new, "--base", old)
    assert whole.code == 0 and whole.out.strip().endswith("checked with its base app 1.0")
    other = make_archive(tmp_path / "other", index.url, "beta", args=("--version", "1.0"))
    refused = bundle(capsys, "verify", new, "--base", other)
    assert refused.code == 3
    assert f"{other} is not the bundle this delta was made against (app 1.0" in refused.err
    full = bundle(capsys, "verify", old, "--base", other)
    assert full.code == 3 and "a full bundle, not a delta" in full.err


def test_install_sh_takes_the_base_wheels_offline_from_a_folder_or_an_archive(
    releases: tuple[Path, Path], tmp_path: Path, offline: Any
) -> None:
    old, new = releases
    for n, base in enumerate([old, unpack(old, tmp_path / "old")]):
        top = unpack(new, tmp_path / f"server{n}")
        venv = tmp_path / f"venv{n}"
        done = offline([top / "install.sh", "--base", base, venv])
        assert done.returncode == 0, done.stderr
        imported = offline([venv / "bin/python", "-c", "import alpha, beta, epsilon"])
        assert imported.returncode == 0, imported.stderr


def test_a_missing_or_wrong_base_is_refused_naming_it_before_anything_is_written(
    releases: tuple[Path, Path], tmp_path: Path, index: LocalIndex, offline: Any
) -> None:
    _, new = releases
    other = make_archive(tmp_path / "other", index.url, "beta", args=("--version", "1.0"))
    top = unpack(new, tmp_path / "server")
    venv = tmp_path / "venv"
    missing = offline([top / "install.sh", venv])
    assert missing.returncode == 4
    assert missing.stderr.strip().splitlines()[-1] == (
        "error: this is a delta bundle: it takes 3 wheels from app 1.0; pass --base with that "
        "bundle (its folder or its .tar.gz)"
    )
    wrong = offline([top / "install.sh", "--base", other, venv])
    assert wrong.returncode == 4
    assert wrong.stderr.strip().splitlines()[-1] == (
        f"error: --base {other} is not the bundle this delta was made against (app 1.0); "
        "nothing was changed"
    )
    assert not venv.exists() and not list((top / "wheels").glob("alpha*"))


def test_a_delta_is_indexed_after_its_base_and_inspect_says_what_it_takes(
    capsys: pytest.CaptureFixture[str], releases: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = releases
    site = tmp_path / "site"
    early = bundle(capsys, "index", site, new)
    assert early.code == 1 and "index that bundle first" in early.err
    assert bundle(capsys, "index", site, old, new).code == 0
    assert (site / "files/epsilon-1.0-py3-none-any.whl").is_file()
    shown = bundle(capsys, "inspect", new).out
    assert (
        "a delta from app 1.0: it takes 3 of its wheels from that bundle (install.sh --base)"
        in shown
    )
    merged = bundle(capsys, "merge", old, new, "-o", tmp_path / "m")
    assert merged.code == 2 and "is a delta bundle" in merged.err
