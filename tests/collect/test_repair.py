"""Wheels built here from sdists are repaired: they carry the libraries they link.

The package under test is a real C extension compiled here that links ``libwbnative-2.5.so.0``, a
library that lives only in a folder of the build machine (as libpq does when psycopg2 is built
from source). The server never has it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, requirements, unpack
from support.packages import make_linked_extension_sdist, pip_wheel

from wheelbundle.collect.repair import needs_repair
from wheelbundle.format.manifest import Manifest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("gcc") is None,
    reason="repair is for Linux wheels, and the test extension is compiled with gcc",
)


@pytest.fixture
def native_index(make_index: Any, tmp_path: Path) -> tuple[Any, Path]:
    """An index with pip and the extension's sdist; the folder holding its library."""
    folder = tmp_path / "files"
    library = tmp_path / "buildlibs"
    sdist = make_linked_extension_sdist(folder, library, "wbnative", "1.0")
    pip = pip_wheel(folder)
    assert pip is not None
    return make_index(sdist, pip), library


def _make(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, *args: str) -> Any:
    req = tmp_path / "app" / "requirements.txt"
    if not req.exists():  # written once: its mtime is the bundle's timestamp
        requirements(req.parent, "wbnative")
    return bundle(
        capsys, "make", req, "-o", tmp_path / "dist", "--index-url", url, "-q",
        "--cache-dir", tmp_path / "cache", *args,
    )  # fmt: skip


def test_a_built_wheel_carries_the_library_it_links_and_imports_where_that_library_is_not(
    native_index: tuple[Any, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    offline: Any,
) -> None:
    index, library = native_index
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))  # where this machine finds it
    made = _make(capsys, tmp_path, index.url)
    assert made.code == 0, made.err
    top = unpack(made.archive, tmp_path / "server")
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    [package] = [p for p in manifest.packages if p.name == "wbnative"]
    assert package.origin == "built-from-sdist"
    assert package.repaired is not None and package.repaired.startswith("manylinux_")
    assert package.repaired in package.wheel and not needs_repair(package.wheel)
    [grafted] = package.grafted
    assert grafted.name == "libwbnative-2.5.so.0"
    assert grafted.file.startswith("wbnative.libs/libwbnative-")
    components = json.loads((top / "sbom.cdx.json").read_text())["components"]
    [component] = [c for c in components if c["name"] == "wbnative"]
    [library_component] = component["components"]
    assert library_component["name"] == "libwbnative-2.5.so.0"
    assert library_component["hashes"] == [{"alg": "SHA-256", "content": grafted.sha256}]

    shown = bundle(capsys, "inspect", made.archive)
    assert shown.out.strip().splitlines()[-1] == (
        f"wbnative was built here and repaired for {package.repaired}; it carries "
        "libwbnative-2.5.so.0"
    )

    shutil.rmtree(library)  # the server has no such library
    monkeypatch.delenv("LD_LIBRARY_PATH")
    venv = tmp_path / "venv"
    done = offline([top / "install.sh", "--python", sys.executable, venv])
    assert done.returncode == 0, done.stderr
    imported = offline([venv / "bin/python", "-c", "import wbnative; print(wbnative.answer())"])
    assert imported.stdout.strip() == "42", imported.stderr


def test_a_repair_is_done_once_and_the_bundle_is_the_same_again(
    native_index: tuple[Any, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    index, library = native_index
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))
    first = _make(capsys, tmp_path, index.url)
    assert first.code == 0, first.err
    data = first.archive.read_bytes()
    first.archive.unlink()
    # The cached repair is used: with the library gone, repairing again could not succeed.
    monkeypatch.delenv("LD_LIBRARY_PATH")
    second = _make(capsys, tmp_path, index.url)
    assert second.code == 0, second.err
    assert second.archive.read_bytes() == data


def test_a_linked_library_that_cannot_be_found_stops_the_make_naming_package_and_library(
    native_index: tuple[Any, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    index, _ = native_index  # LD_LIBRARY_PATH unset: the library is nowhere the loader looks
    made = _make(capsys, tmp_path, index.url)
    assert made.code == 1
    [error] = [line for line in made.err.splitlines() if line.startswith("error: ")]
    assert error.startswith(
        "error: wbnative==1.0 was built here and cannot be made to carry the libraries it links"
    )
    assert "libwbnative-2.5.so.0" in error
    assert error.endswith(
        "install that library here (or name its folder in LD_LIBRARY_PATH) and run again"
    )
    assert not list((tmp_path / "dist").glob("*"))


def test_a_wheel_that_needs_a_newer_glibc_than_the_target_has_is_refused_by_name(
    make_index: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Built against this machine's glibc 2.36 (arc4random), for a server with glibc 2.31."""
    library = tmp_path / "buildlibs"
    sdist = make_linked_extension_sdist(
        tmp_path / "files", library, "wbnative", "1.0", new_glibc=True
    )
    pip = pip_wheel(tmp_path / "files")
    assert pip is not None
    index = make_index(sdist, pip)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    made = _make(capsys, tmp_path, index.url, "--target", f"{interpreter}-manylinux_2_31_x86_64")
    assert made.code == 1
    [error] = [line for line in made.err.splitlines() if line.startswith("error: ")]
    assert "wbnative 1.0 (wbnative-1.0-" in error
    assert "manylinux_2_36_x86_64.whl, for " in error


def test_a_wheel_with_a_platform_independent_or_manylinux_tag_is_left_alone() -> None:
    assert needs_repair("a-1.0-cp311-cp311-linux_x86_64.whl")
    assert needs_repair("a-1.0-cp311-cp311-linux_aarch64.whl")
    assert not needs_repair("a-1.0-py3-none-any.whl")
    assert not needs_repair("a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert not needs_repair("a-1.0-cp311-cp311-macosx_11_0_arm64.whl")


def test_the_manifest_of_a_bundle_with_no_repaired_wheel_has_no_repair_keys(
    capsys: pytest.CaptureFixture[str], index: Any, tmp_path: Path
) -> None:
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "alpha"), "-o", tmp_path / "dist",
        "--index-url", index.url, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    with tarfile.open(made.archive) as tar:
        member = tar.extractfile(f"{tar.getnames()[0]}/manifest.yaml")
        assert member is not None
        text = member.read().decode()
    assert "repaired" not in text and "grafted" not in text
