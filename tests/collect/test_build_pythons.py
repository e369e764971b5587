"""Sdists are built for the server's Python, by a Python of that version on this machine.

A C extension built by the tool's own Python is no use to a server running another: each
target whose Python differs has its sdists built again by a Python of its version (given with
``--build-python``, else found on PATH, in pyenv or among uv's Pythons), from the target's own
pip wheel, then repaired; where none is found, the error says which Python and how to give one.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from support.bundles import bundle, requirements, unpack
from support.fixtures import MakeIndex, RunOffline
from support.index import LocalIndex
from support.packages import make_compiled_sdist, make_wheel, pip_wheel
from support.pythons import find_python
from support.runtimes import RUNTIME_VERSION

from wheelbundle.format.layout import read_manifest

MACHINE = platform.machine()
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _python(version: str) -> str:
    found = find_python(version)
    if found is None:
        pytest.skip(f"no CPython {version} on this machine (pyenv install {version})")
    return found


def _other(*versions: str) -> list[str]:
    """Versions other than the tool's own, each of which this machine has."""
    return [v for v in versions if v != HERE and _python(v)]


@pytest.fixture
def crc_index(make_index: MakeIndex, tmp_path: Path) -> LocalIndex:
    folder = tmp_path / "packages"
    make_compiled_sdist(folder, "crcext", "0.1")
    make_wheel(folder, "alpha", "1.0")
    pip_wheel(folder)
    return make_index(*folder.iterdir())


def test_a_c_extension_is_built_for_the_targets_python_and_imports_there_offline(
    crc_index: LocalIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
) -> None:
    (version,) = _other("3.9") or _other("3.12")
    tag = f"cp{version.replace('.', '')}"
    req = requirements(tmp_path / "app", "crcext", "alpha")
    made = bundle(
        capsys,
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        crc_index.url,
        "--target",
        f"{tag}-manylinux_2_28_{MACHINE}",
    )
    assert made.code == 0, made.err
    assert f"with {tag} {version}." in made.err  # the Python that built it, named
    (crc,) = (p for p in read_manifest(made.archive).packages if p.name == "crcext")
    assert parse_wheel_filename(crc.wheel)[3] and crc.wheel.split("-")[2] == tag
    assert (
        crc.repaired is not None and crc.built_by and crc.built_by.startswith(f"{tag} {version}.")
    )
    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    python = _python(version)
    assert offline([top / "install.sh", "--python", python, venv]).returncode == 0
    imported = offline(
        [
            venv / "bin" / "python",
            "-c",
            "import crcext, sys; print(crcext.answer(), sys.version_info[:2])",
        ]
    )
    assert imported.stdout.split("(")[0].strip() == "42"
    assert version.replace(".", ", ") in imported.stdout


def test_one_sdist_is_built_once_per_python_of_a_multi_target_bundle(
    crc_index: LocalIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    versions = [v for v in ("3.10", "3.12", "3.13") if find_python(v)]
    if len(versions) < 3:
        pytest.skip("needs CPython 3.10, 3.12 and 3.13 on this machine")
    targets = [f"cp{v.replace('.', '')}-manylinux_2_28_{MACHINE}" for v in versions]
    req = requirements(tmp_path / "app", "crcext")
    args = [a for t in targets for a in ("--target", t)]
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", crc_index.url, *args)
    assert made.code == 0, made.err
    manifest = read_manifest(made.archive)
    built = {p.wheel.split("-")[2] for p in manifest.packages if p.name == "crcext"}
    assert built == {t.split("-")[0] for t in targets}
    for entry in manifest.targets:  # each target installs the one built for its Python
        (crc,) = (w for w in entry.wheels if w.startswith("crcext-"))
        assert crc.split("-")[2] == f"cp{entry.python_version.replace('.', '')}"


def test_with_no_python_of_the_targets_version_the_error_says_how_to_give_one(
    crc_index: LocalIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    req = requirements(tmp_path / "app", "crcext", "alpha")
    target = f"cp319-manylinux_2_28_{MACHINE}"  # no CPython 3.19 anywhere yet
    refused = bundle(
        capsys,
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--index-url",
        crc_index.url,
        "--target",
        target,
    )
    assert refused.code == 1
    line = refused.err.strip().splitlines()[-1]
    assert line.startswith("error: these packages have no wheel for the target")
    assert "crcext 0.1 (crcext-0.1-" in line and f"for {target}; no CPython 3.19 here" in line
    assert "--build-python PATH" in line and "pyenv install 3.19" in line
    assert "--python-runtime" in line and "--find-links" in line
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_a_build_python_that_does_not_run_or_fits_no_target_is_a_usage_error(
    crc_index: LocalIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    req = requirements(tmp_path / "app", "alpha")
    missing = tmp_path / "python3.9"
    refused = bundle(capsys, "make", req, "--index-url", crc_index.url, "--build-python", missing)
    assert refused.code == 2
    assert (
        f"error: --build-python {missing}: does not run as a Python on this machine" in refused.err
    )
    here = bundle(
        capsys,
        "make",
        req,
        "--index-url",
        crc_index.url,
        "--build-python",
        sys.executable,
        "--target",
        f"cp319-manylinux_2_28_{MACHINE}",
    )
    assert here.code == 2
    assert (
        f"is Python {platform.python_version()}" in here.err and "no target is (cp319)" in here.err
    )


def test_the_runtime_a_bundle_carries_builds_its_sdists(
    crc_index: LocalIndex,
    runtime: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    offline: RunOffline,
) -> None:
    """The very interpreter that runs the wheels on the server builds them here, before any
    Python this machine keeps, unpacked for the run and gone after it."""
    if RUNTIME_VERSION == HERE:
        pytest.skip("the runtime is this Python's version: its own builds fit")
    req = requirements(tmp_path / "app", "crcext")
    made = bundle(capsys, "make", req, "-o", tmp_path / "dist", "--index-url", crc_index.url,
                  "--python-runtime", runtime, "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert made.code == 0, made.err
    (crc,) = (p for p in read_manifest(made.archive).packages if p.name == "crcext")
    tag = f"cp{RUNTIME_VERSION.replace('.', '')}"
    assert crc.built_by and crc.built_by.startswith(f"{tag} {RUNTIME_VERSION}.")
    assert crc.built_by.endswith("(runtime)")
    assert not list((tmp_path / "cache").rglob(".runtime-*"))  # unpacked for the run only
    top = unpack(made.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    assert offline([top / "install.sh", venv]).returncode == 0
    imported = offline([venv / "bin" / "python", "-c", "import crcext; print(crcext.answer())"])
    assert imported.stdout.strip() == "42"
