"""Every example in examples/ is bundled and installed with the network cut.

The examples name real public packages; ``make test`` fetches those wheels once
(``tests/example-wheels.txt``, hash-pinned) and the tests serve them from a local index, so
nothing here reaches the network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.bundles import bundle, unpack
from support.fixtures import MakeIndex, RunOffline
from support.index import LocalIndex

from wheelbundle.cache import Cache, sha256_file
from wheelbundle.format.manifest import Manifest
from wheelbundle.inputs.pinned_hashes import given_hashes
from wheelbundle.inputs.reqfile import read_requirements
from wheelbundle.resolve.pylock import read_pylock

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def public(example_wheels: Path, make_index: MakeIndex) -> LocalIndex:
    """A local stand-in for the public index, serving exactly the fetched example wheels."""
    return make_index(*sorted(example_wheels.glob("*.whl")))


def installed(offline: RunOffline, top: Path, venv: Path) -> dict[str, str]:
    """Install the unpacked bundle offline; return what is in the venv, name to version."""
    done = offline([top / "install.sh", venv])
    assert done.returncode == 0, done.stdout + done.stderr
    check = offline([venv / "bin" / "python", "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout
    listing = offline([venv / "bin" / "python", "-m", "pip", "list", "--format=freeze"])
    pairs = (line.split("==") for line in listing.stdout.split())
    return {canonicalize_name(name): version for name, version in pairs}


def manifest_of(top: Path) -> Manifest:
    return Manifest.from_yaml((top / "manifest.yaml").read_text())


def test_the_in_house_repository_bundles_both_packages_from_its_bundle_yaml(
    tmp_path: Path,
    public: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    offline: RunOffline,
) -> None:
    repo = shutil.copytree(EXAMPLES / "inhouse", tmp_path / "inhouse")  # builds write beside
    monkeypatch.chdir(repo)
    made = bundle(capsys, "make", "--index-url", public.url)
    assert made.code == 0, made.err
    assert made.archive.name.startswith("acme-0.9.0-")
    top = unpack(made.archive, tmp_path / "server")
    origins = {p.name: p.origin for p in manifest_of(top).packages}
    assert origins == {
        "acme-api": "local",
        "acme-core": "local",
        "idna": "index-wheel",
        "colorama": "index-wheel",  # the [color] extra bundle.yaml asks for
        "pip": "index-wheel",
    }
    venv = tmp_path / "venv"
    assert {"acme-api", "acme-core", "idna", "colorama"} <= set(installed(offline, top, venv))
    ran = offline([venv / "bin" / "acme-api", "Pumpe-Süd.Halle-3"])
    assert ran.returncode == 0, ran.stderr
    assert "xn--pumpe-sd-" in ran.stdout and ran.stdout.strip().endswith("halle-3" + "\x1b[0m")


def test_the_pip_compile_file_bundles_exactly_its_hashes(
    tmp_path: Path, public: LocalIndex, capsys: pytest.CaptureFixture[str], offline: RunOffline
) -> None:
    compiled = EXAMPLES / "locked" / "requirements.txt"
    made = bundle(capsys, "make", compiled, "-o", tmp_path / "dist", "--index-url", public.url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    given = given_hashes(read_requirements([compiled]))
    bundled = {p.name: p for p in manifest_of(top).packages if p.name != "pip"}
    assert (
        set(bundled)
        == set(given)
        == {"certifi", "charset-normalizer", "idna", "requests", "urllib3"}
    )
    for name, package in bundled.items():
        assert ("sha256", package.sha256) in given[name].hashes
    versions = installed(offline, top, tmp_path / "venv")
    for line in compiled.read_text().splitlines():
        if "==" in line:
            pin = Requirement(line.split()[0])
            assert versions[canonicalize_name(pin.name)] == str(pin.specifier).removeprefix("==")


def test_the_pylock_is_bundled_as_locked_from_a_warm_cache(
    tmp_path: Path,
    example_wheels: Path,
    public: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
) -> None:
    """Its URLs are the public index's; files already in the cache (by hash) are not fetched."""
    lock_path = EXAMPLES / "pylock" / "pylock.toml"
    cache = Cache(tmp_path / "cache")
    for wheel in example_wheels.glob("*.whl"):
        cache.add_file(wheel, sha256_file(wheel))
    made = bundle(
        capsys, "make", lock_path, "--cache-dir", cache.root,
        "-o", tmp_path / "dist", "--index-url", public.url,
    )  # fmt: skip
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    lock = read_pylock(lock_path)
    locked = {p.name: str(p.version) for p in lock.packages}
    bundled = {p.name: p.version for p in manifest_of(top).packages if p.name != "pip"}
    assert bundled == locked
    versions = installed(offline, top, tmp_path / "venv")
    assert {name: versions[name] for name in locked} == locked


def test_the_webapp_bundles_from_its_bundle_yaml_and_serves_offline(
    tmp_path: Path,
    public: LocalIndex,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    offline: RunOffline,
) -> None:
    app = shutil.copytree(
        EXAMPLES / "webapp",
        tmp_path / "webapp",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "dist"),
    )
    monkeypatch.chdir(app)
    made = bundle(capsys, "make", "--index-url", public.url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    versions = installed(offline, top, venv)
    assert versions["flask"] == "3.1.3" and versions["webapp"] == "1.0"
    served = offline([venv / "bin" / "webapp", "--selftest"])
    assert served.returncode == 0, served.stderr
    assert served.stdout.startswith("GET / -> 200")
