"""``bundle make --installer uv``: each target's uv wheel rides along, apart from the application.

uv is a tool for installing: the manifest, SHA256SUMS, verify, inspect, diff, merge and the SBOM
know it, and no lock or venv ever holds it. install.sh's side is tested in test_payload.py; here
a bundle made by ``bundle make`` goes all the way to a server, offline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from support.bundles import (
    bundle,
    make_archive,
    member_names,
    read_member,
    requirements,
    rewrite,
    unpack,
)
from support.cyclonedx import validate
from support.index import LocalIndex
from support.packages import make_uv_wheel, make_wheel, native_tag, pure_bundle_tag

from wheelbundle.errors import VerifyFailed
from wheelbundle.format.checksums import parse_sha256sums, sha256sums
from wheelbundle.format.manifest import Manifest
from wheelbundle.review.verify import verify_bundle

PURE = pure_bundle_tag()
"""What a bundle of pure wheels for this Python is named after."""

ARM = "cp312-manylinux_2_28_aarch64"
UV_VERSION = version("uv")


@pytest.fixture(scope="module")
def uv_index(
    tmp_path_factory: pytest.TempPathFactory, packages_dir: Path, uv_wheel: Path
) -> Iterator[LocalIndex]:
    """alpha, beta, native and pip, with uv's wheels: the real one here, a stand-in for aarch64."""
    folder = tmp_path_factory.mktemp("uv-index")
    for pattern in ("alpha-*", "beta-*", "native-*", "pip-*"):
        for file in packages_dir.glob(pattern):
            shutil.copy(file, folder)
    make_wheel(folder, "native", "1.0", tag="cp312-cp312-manylinux_2_17_aarch64")
    shutil.copy(uv_wheel, folder)
    make_uv_wheel(folder, b"#!/bin/sh\nexit 1\n", platform="manylinux_2_17_aarch64")
    with LocalIndex(folder) as served:
        yield served


@pytest.fixture(scope="module")
def with_uv(tmp_path_factory: pytest.TempPathFactory, uv_index: LocalIndex) -> Path:
    folder = tmp_path_factory.mktemp("with-uv")
    return make_archive(folder, uv_index.url, "alpha", args=("--installer", "uv"))


@pytest.fixture(scope="module")
def with_pip(tmp_path_factory: pytest.TempPathFactory, uv_index: LocalIndex) -> Path:
    """The same requirements, bundled the default way."""
    return make_archive(tmp_path_factory.mktemp("with-pip"), uv_index.url, "alpha")


def manifest_of(archive: Path) -> Manifest:
    return Manifest.from_yaml(read_member(archive, "manifest.yaml").decode())


def test_the_uv_wheel_rides_along_outside_the_lock(
    with_uv: Path, with_pip: Path, uv_wheel: Path
) -> None:
    assert with_uv.name == with_pip.name  # uv's own platform does not name the bundle
    top = with_uv.name.removesuffix(f"-{PURE}.tar.gz")
    wheels = [p.wheel for p in manifest_of(with_pip).packages] + [uv_wheel.name]
    assert member_names(with_uv) == sorted(
        [
            top,
            *(f"{top}/{name}" for name in ("SHA256SUMS", "install.sh", "manifest.yaml")),
            *(f"{top}/{name}" for name in ("pylock.toml", "requirements.lock", "sbom.cdx.json")),
            f"{top}/support",
            *(f"{top}/support/{name}" for name in ("probe.py", "steps.py", "targets.json")),
            f"{top}/wheels",
            *(f"{top}/wheels/{w}" for w in wheels),
        ]
    )
    manifest = manifest_of(with_uv)
    [target] = manifest.targets
    assert target.uv_wheel == uv_wheel.name
    assert target.wheels == manifest_of(with_pip).targets[0].wheels
    [uv] = [p for p in manifest.packages if p.name == "uv"]
    assert (uv.wheel, uv.origin, uv.sha256) == (
        uv_wheel.name,
        "index-wheel",
        hashlib.sha256(uv_wheel.read_bytes()).hexdigest(),
    )
    for lock in ("requirements.lock", "pylock.toml"):
        assert read_member(with_uv, lock) == read_member(with_pip, lock)
    sums = parse_sha256sums(read_member(with_uv, "SHA256SUMS").decode())
    assert sums[f"wheels/{uv_wheel.name}"] == uv.sha256
    targets = json.loads(read_member(with_uv, "support/targets.json"))
    assert targets["targets"][0]["uv_wheel"] == uv_wheel.name


def test_verify_inspect_and_diff_know_uv(
    capsys: pytest.CaptureFixture[str], with_uv: Path, with_pip: Path, uv_wheel: Path
) -> None:
    verified = bundle(capsys, "verify", with_uv)
    assert verified.code == 0, verified.err
    assert "OK, 4 wheels" in verified.out
    table = bundle(capsys, "inspect", with_uv).out
    assert f", lock requirements.lock, installs with uv {UV_VERSION}\n" in table
    data = json.loads(bundle(capsys, "inspect", "--json", with_uv).out)
    assert data["targets"][0]["uv_wheel"] == uv_wheel.name
    diff = bundle(capsys, "diff", with_pip, with_uv)
    assert (diff.code, diff.out) == (1, f"added  uv  {UV_VERSION}\n")


def test_the_sbom_lists_uv_as_a_tool_outside_the_application(with_uv: Path) -> None:
    document: dict[str, Any] = json.loads(read_member(with_uv, "sbom.cdx.json"))
    validate(document)
    scopes = {c["name"]: c.get("scope") for c in document["components"]}
    assert scopes == {"alpha": None, "beta": None, "pip": None, "uv": "excluded"}
    [uv] = [c for c in document["components"] if c["name"] == "uv"]
    assert {"name": "wheelbundle:role", "value": "installer"} in uv["properties"]


def test_verify_refuses_a_target_whose_uv_wheel_is_not_uv(with_uv: Path, tmp_path: Path) -> None:
    manifest = read_member(with_uv, "manifest.yaml").decode()
    uv_wheel = manifest_of(with_uv).targets[0].uv_wheel
    assert uv_wheel is not None
    changed = manifest.replace(f"uv_wheel: {uv_wheel}", "uv_wheel: alpha-1.0-py3-none-any.whl")
    sums = parse_sha256sums(read_member(with_uv, "SHA256SUMS").decode())
    sums["manifest.yaml"] = hashlib.sha256(changed.encode()).hexdigest()
    tampered = rewrite(
        with_uv,
        tmp_path / with_uv.name,
        {"manifest.yaml": changed.encode(), "SHA256SUMS": sha256sums(sums).encode()},
    )
    with pytest.raises(VerifyFailed) as failed:
        verify_bundle(tampered)
    assert str(failed.value) == (
        f"manifest.yaml: target {manifest_of(with_uv).targets[0].name} installs with "
        "wheels/alpha-1.0-py3-none-any.whl, which is not a uv wheel in the bundle"
    )


def test_bundle_yaml_asks_for_uv(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uv_index: LocalIndex,
    uv_wheel: Path,
) -> None:
    requirements(tmp_path, "alpha")
    (tmp_path / "bundle.yaml").write_text(
        f"inputs: [requirements.txt]\nindex_url: {uv_index.url}\ninstaller: uv\n"
    )
    monkeypatch.chdir(tmp_path)
    made = bundle(capsys, "make", "-q")
    assert made.code == 0, made.err
    assert manifest_of(made.archive).targets[0].uv_wheel == uv_wheel.name


def test_an_index_without_uv_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: LocalIndex
) -> None:
    req = requirements(tmp_path, "alpha")
    out = ("-o", tmp_path / "dist", "--index-url", index.url, "--installer", "uv")
    refused = bundle(capsys, "make", req, *out)
    assert refused.code == 1
    assert refused.err.splitlines()[-1].startswith(
        "error: --installer uv: no uv wheel for CPython 3."
    )
    assert not (tmp_path / "dist").exists()


def test_merged_targets_keep_their_own_uv_and_the_server_installs_with_its_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, uv_index: LocalIndex, offline: Any
) -> None:
    made = []
    for runner, targets in (("arm", ("--target", ARM)), ("x86", ())):
        req = requirements(tmp_path / runner / "svc", "native")
        out = ("-o", tmp_path / runner / "dist", "--index-url", uv_index.url, "--version", "1.0")
        outcome = bundle(capsys, "make", req, *out, *targets, "--installer", "uv")
        assert outcome.code == 0, outcome.err
        made.append(outcome.archive)
    merged = bundle(capsys, "merge", *made, "-o", tmp_path / "merged")
    assert merged.code == 0, merged.err
    assert bundle(capsys, "verify", merged.archive).code == 0
    manifest = manifest_of(merged.archive)
    host = native_tag().split("-", 2)[2]
    assert [(t.name.split("-", 1)[1], t.uv_wheel) for t in manifest.targets] == [
        ("manylinux_2_17_aarch64", uv_wheel_name("manylinux_2_17_aarch64")),
        (host, uv_wheel_name(host)),
    ]

    top = unpack(merged.archive, tmp_path / "server")
    done = offline([top / "install.sh", tmp_path / "venv"])
    assert done.returncode == 0, done.stderr
    assert f"with uv {UV_VERSION} (offline, hash-checked)" in done.stderr
    assert "note:" not in done.stderr  # this server's uv, not the aarch64 stand-in
    python = tmp_path / "venv" / "bin" / "python"
    assert offline([python, "-c", "import native"]).returncode == 0
    assert offline([python, "-m", "pip", "check"]).returncode == 0
    assert not (tmp_path / "venv" / "bin" / "uv").exists()


def uv_wheel_name(platform: str) -> str:
    return f"uv-{UV_VERSION}-py3-none-{platform}.whl"
