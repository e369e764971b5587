"""PEP 751 lock files: bundled exactly as locked, never re-resolved; and one in every bundle."""

from __future__ import annotations

import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.pylock import Pylock
from packaging.tags import sys_tags
from support.bundles import bundle, member_names, requirements, unpack
from support.fixtures import MakeIndex, RunOffline
from support.index import LocalIndex
from support.packages import sha256_hex, wheel_filename

from wheelbundle.format.manifest import Manifest
from wheelbundle.format.pylock import toml_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

SERVED = ("alpha", "beta", "epsilon", "eta", "theta")


def lock_file(folder: Path, packages_dir: Path, index_url: str) -> Path:
    """A hand-written pylock.toml: wheels by URL and by path, an sdist, an extra, a group, and
    a package for another platform."""
    wheels = folder / "wheels"
    wheels.mkdir(parents=True)
    beta = wheel_filename("beta", "1.0")
    (wheels / beta).write_bytes((packages_dir / beta).read_bytes())

    def wheel(name: str, **where: str) -> dict[str, object]:
        filename = wheel_filename(name, "1.0")
        sha = sha256_hex(packages_dir / filename)
        return {"name": filename, **where, "hashes": {"sha256": sha}}

    def by_url(name: str) -> dict[str, object]:
        return wheel(name, url=f"{index_url}{wheel_filename(name, '1.0')}")

    sdist = packages_dir / "gamma-1.0.tar.gz"
    packages: list[dict[str, object]] = [
        {"name": "alpha", "version": "1.0", "dependencies": [{"name": "beta"}], "wheels": [by_url("alpha")]},
        {"name": "beta", "version": "1.0", "wheels": [wheel("beta", path=f"wheels/{beta}")]},
        {
            "name": "gamma",
            "version": "1.0",
            "sdist": {"name": sdist.name, "url": f"{index_url}{sdist.name}", "hashes": {"sha256": sha256_hex(sdist)}},
        },
        {"name": "epsilon", "version": "1.0", "marker": "'fast' in extras", "wheels": [by_url("epsilon")]},
        {"name": "eta", "version": "1.0", "marker": "sys_platform == 'win32'", "wheels": [by_url("eta")]},
        {"name": "theta", "version": "1.0", "marker": "'ops' in dependency_groups", "wheels": [by_url("theta")]},
    ]  # fmt: skip
    lock = {
        "lock-version": "1.0",
        "created-by": "a test",
        "extras": ["fast"],
        "dependency-groups": ["ops"],
        "default-groups": [],
        "packages": packages,
    }
    path = folder / "pylock.toml"
    path.write_text(toml_text(lock))
    return path


@dataclass(frozen=True)
class Locked:
    lock: Path
    index: LocalIndex


@pytest.fixture
def locked(tmp_path: Path, packages_dir: Path, make_index: MakeIndex) -> Locked:
    files = [packages_dir / wheel_filename(n, "1.0") for n in SERVED]
    index = make_index(*files, packages_dir / "gamma-1.0.tar.gz", *packages_dir.glob("pip-*.whl"))
    return Locked(lock_file(tmp_path / "app", packages_dir, index.file_url("")), index)


def manifest_of(archive: Path, dest: Path) -> Manifest:
    return Manifest.from_yaml((unpack(archive, dest) / "manifest.yaml").read_text())


def test_a_pylock_is_bundled_exactly_as_locked_without_resolving_it(
    tmp_path: Path,
    locked: Locked,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
) -> None:
    lock, index_url, index = locked.lock, locked.index.url, locked.index
    index.reset_requests()
    made = bundle(capsys, "make", lock, "-o", tmp_path / "dist", "--index-url", index_url)
    assert made.code == 0, made.err
    manifest = manifest_of(made.archive, tmp_path / "server")
    origins = {p.name: p.origin for p in manifest.packages}
    assert origins == {
        "alpha": "index-wheel",
        "beta": "local",
        "gamma": "built-from-sdist",
        "pip": "index-wheel",
    }  # no extra, no group asked; eta is for Windows
    pages = {p for p in index.requests if p.startswith("/simple/")}
    assert pages <= {"/simple/", "/simple/pip/"}  # only pip, which the lock does not hold, is found

    top = tmp_path / "server" / manifest.top
    venv = tmp_path / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    check = offline([venv / "bin" / "python", "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout


def test_extras_and_groups_select_from_the_lock(
    tmp_path: Path, locked: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, index_url = locked.lock, locked.index.url
    made = bundle(
        capsys, "make", lock, "--extra", "fast", "--group", "ops",
        "-o", tmp_path / "dist", "--index-url", index_url,
    )  # fmt: skip
    assert made.code == 0, made.err
    names = {p.name for p in manifest_of(made.archive, tmp_path / "x").packages}
    assert {"epsilon", "theta"} <= names and "eta" not in names


def test_a_foreign_target_selects_its_own_packages(
    tmp_path: Path, locked: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, index_url = locked.lock, locked.index.url
    made = bundle(
        capsys, "make", lock, "--target", "cp311-win_amd64",
        "-o", tmp_path / "dist", "--index-url", index_url,
    )  # fmt: skip
    assert made.code == 0, made.err
    assert "eta" in {p.name for p in manifest_of(made.archive, tmp_path / "x").packages}


@pytest.mark.parametrize(
    ("change", "code", "expected"),
    [
        (lambda t: t.replace('lock-version = "1.0"', ""), 2, "not a valid pylock.toml"),
        (lambda t: t.replace('lock-version = "1.0"', "lock-version = [["), 2, "not valid TOML"),
        (lambda t: t.replace('name = "beta"', "name = 7"), 2, "not a valid pylock.toml"),
    ],
)
def test_an_invalid_pylock_is_one_clear_error(
    tmp_path: Path,
    locked: Locked,
    capsys: pytest.CaptureFixture[str],
    change: object,
    code: int,
    expected: str,
) -> None:
    lock, index_url = locked.lock, locked.index.url
    lock.write_text(change(lock.read_text()))  # type: ignore[operator]
    refused = bundle(capsys, "make", lock, "-o", tmp_path / "dist", "--index-url", index_url)
    assert refused.code == code
    assert refused.err.strip().splitlines()[-1].startswith(f"error: {lock}: {expected}")
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_a_file_that_does_not_match_the_locked_hash_is_refused(
    tmp_path: Path, locked: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, index_url, index = locked.lock, locked.index.url, locked.index
    index.tamper(wheel_filename("alpha", "1.0"))
    refused = bundle(
        capsys, "make", lock, "--no-cache", "-o", tmp_path / "dist", "--index-url", index_url
    )
    assert refused.code == 1
    assert "alpha" in refused.err and "hash" in refused.err
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--extra", "slow"), "has no extra 'slow' (it has: fast)"),
        (("--group", "dev"), "has no dependency group 'dev' (it has: ops)"),
    ],
)
def test_an_unknown_extra_or_group_of_the_lock_is_refused(
    tmp_path: Path,
    locked: Locked,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, str],
    expected: str,
) -> None:
    lock, index_url = locked.lock, locked.index.url
    refused = bundle(capsys, "make", lock, *args, "--index-url", index_url)
    assert refused.code == 2
    assert expected in refused.err


def test_a_pylock_is_bundled_on_its_own(
    tmp_path: Path, locked: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, index_url = locked.lock, locked.index.url
    other = requirements(tmp_path, "alpha")
    refused = bundle(capsys, "make", lock, other, "--index-url", index_url)
    assert refused.code == 2
    assert "bundle it on its own" in refused.err


def test_every_bundle_carries_a_valid_pylock_naming_its_wheels(
    tmp_path: Path, locked: Locked, capsys: pytest.CaptureFixture[str]
) -> None:
    index_url = locked.index.url
    req = requirements(tmp_path / "app2", "alpha")
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", index_url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    lock = Pylock.from_dict(tomllib.loads((top / "pylock.toml").read_text()))
    selected = {
        (package.name, dist.path)
        for package, dist in lock.select(environment=default_environment(), tags=list(sys_tags()))
    }
    assert selected == {(p.name, f"wheels/{p.wheel}") for p in manifest.packages}
    for package in lock.packages:
        for wheel in package.wheels or ():
            assert wheel.path is not None
            assert sha256_hex(top / wheel.path) == wheel.hashes["sha256"]


def test_a_bundles_own_pylock_rebundles_it_with_the_network_cut(
    tmp_path: Path,
    locked: Locked,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
) -> None:
    lock, index_url = locked.lock, locked.index.url
    made = bundle(capsys, "make", lock, "-o", tmp_path / "dist", "--index-url", index_url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "first")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "SOURCE_DATE_EPOCH": "1"}
    again = offline(
        [
            sys.executable,
            "-m",
            "wheelbundle",
            "make",
            top / "pylock.toml",
            "-o",
            tmp_path / "again",
        ],
        env=env,
    )
    assert again.returncode == 0, again.stderr
    archive = Path(again.stdout.strip().splitlines()[-1])
    with tarfile.open(archive) as tar:
        wheels = sorted(n.rsplit("/", 1)[-1] for n in tar.getnames() if "/wheels/" in n)
    assert wheels == sorted(p.name for p in (top / "wheels").iterdir())
    assert any(name.endswith("/pylock.toml") for name in member_names(archive))
