"""Real servers: Debian 11, 12 and 13 as they ship (minbase and python3, nothing more).

Each is a root file system made by mmdebstrap (a tarball kept in WHEELBUNDLE_DEBIAN_CACHE,
made once), entered as a chroot in new mount and network namespaces with /proc mounted: a
machine with its own Python, no python3-venv, no python3-distutils, no pip, and no network.
The bundle is made for it as an operator would: ``bundle probe`` run there, then
``bundle make --target server.json``. These need root, unshare and mmdebstrap (CI has them);
elsewhere they skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex
from support.packages import make_compiled_sdist, make_linked_extension_sdist, pip_wheel
from support.pythons import find_python
from support.runtimes import RUNTIME_VERSION

from wheelbundle.format.layout import read_manifest

#: Debian release -> its Python, as the release ships it.
SUITES = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}


@pytest.fixture(scope="session")
def debian_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("chroot"):
        pytest.skip("Debian chroots need root, unshare and chroot")
    if not shutil.which("mmdebstrap"):
        pytest.skip("Debian root file systems are made with mmdebstrap: apt-get install mmdebstrap")
    folder = os.environ.get("WHEELBUNDLE_DEBIAN_CACHE")
    return Path(folder) if folder else tmp_path_factory.mktemp("debian")


def debian_root(cache: Path, suite: str, dest: Path) -> Path:
    """A fresh copy of ``suite``'s minbase root file system (its tarball made once)."""
    tarball = cache / f"{suite}-minbase-python3.tar"
    if not tarball.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f".{suite}.part.tar"  # mmdebstrap writes a tar for a .tar name
        made = subprocess.run(
            ["mmdebstrap", "--variant=minbase", "--include=python3", suite, partial],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if made.returncode != 0:
            pytest.skip(f"mmdebstrap could not make {suite}: {made.stderr.strip()[-300:]}")
        partial.replace(tarball)
    dest.mkdir()
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="fully_trusted")  # our own root file system, devices and all
    return dest


def in_server(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    """``command`` (sh) inside the server: its own mounts, /proc, and no network at all."""
    return subprocess.run(
        ["unshare", "-m", "-n", "sh", "-c", 'mount -t proc proc "$1/proc" && exec chroot "$@"',
         "sh", root, "sh", "-c", command],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("suite", list(SUITES))
def test_a_bundle_made_for_a_stock_debian_server_installs_there_offline(
    suite: str,
    debian_cache: Path,
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    tmp_path: Path,
) -> None:
    root = debian_root(debian_cache, suite, tmp_path / "root")
    for missing in ("ensurepip", "distutils/cmd.py"):  # no python3-venv, no python3-distutils
        assert not list((root / "usr/lib").glob(f"python3.*/{missing}"))
    assert not list((root / "usr/lib").glob("python3*/*-packages/pip"))  # no python3-pip
    (root / "tmp/probe.py").write_text(bundle(capsys, "probe").out)
    probed = in_server(root, "python3 /tmp/probe.py")
    assert probed.returncode == 0, probed.stderr
    server = tmp_path / "server.json"
    server.write_text(probed.stdout)
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "alpha"), "--target", server,
        "-o", tmp_path / "dist", "--index-url", index.url, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    with tarfile.open(made.archive) as tar:
        tar.extractall(root / "srv", filter="data")
    done = in_server(
        root,
        "cd /srv/* && ./install.sh /opt/app/venv && /opt/app/venv/bin/pip --version && "
        "/opt/app/venv/bin/python -c 'import alpha, beta, sys; print(sys.version.split()[0])'",
    )
    assert done.returncode == 0, done.stderr  # the venv's own pip runs too, distutils or not
    assert done.stdout.splitlines()[-1].startswith(SUITES[suite] + ".")
    assert "No broken requirements found." in done.stderr  # install.sh's pip check


def test_a_bundle_resolved_for_another_patch_level_is_refused_before_anything_is_written(
    debian_cache: Path, capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path
) -> None:
    """Debian 12 ships Python 3.11.2. A shorthand --target assumes 3.11.0, where this marker is
    true; on the server it is false, so the bundle holds a package the server would not want
    (and a marker the other way round would leave one out): refused, naming the marker."""
    root = debian_root(debian_cache, "bookworm", tmp_path / "root")
    req = requirements(tmp_path / "app", 'alpha ; python_full_version < "3.11.1"', "epsilon")
    made = bundle(
        capsys, "make", req, "--target", "cp311-manylinux_2_28_x86_64",
        "-o", tmp_path / "dist", "--index-url", index.url, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    with tarfile.open(made.archive) as tar:
        tar.extractall(root / "srv", filter="data")
    refused = in_server(root, "cd /srv/* && ./install.sh /opt/app/venv")
    assert refused.returncode == 3, refused.stderr
    [error] = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert error == (
        "error: this bundle was resolved for Python 3.11.0, where 'python_full_version < \"3.11.1\"' is True, "
        "but here (Python 3.11.2) it is False, so other packages would be needed: run 'bundle "
        "probe' on this server and make the bundle with --target server.json"
    )
    assert not (root / "opt/app").exists()


def test_a_wheel_built_here_carries_its_library_to_a_server_that_lacks_it(
    debian_cache: Path,
    capsys: pytest.CaptureFixture[str],
    make_index: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A C extension compiled here against a library only this machine has, bundled for
    Debian 12 as ``bundle probe`` describes it: repaired, it imports there."""
    if sys.version_info[:2] != (3, 11) or shutil.which("gcc") is None:
        pytest.skip("the extension is compiled here for Debian 12's Python 3.11, with gcc")
    root = debian_root(debian_cache, "bookworm", tmp_path / "root")
    library = tmp_path / "buildlibs"
    sdist = make_linked_extension_sdist(tmp_path / "files", library, "wbnative", "1.0")
    pip = pip_wheel(tmp_path / "files")
    assert pip is not None
    index = make_index(sdist, pip)
    (root / "tmp/probe.py").write_text(bundle(capsys, "probe").out)
    probed = in_server(root, "python3 /tmp/probe.py")
    assert probed.returncode == 0, probed.stderr
    (tmp_path / "server.json").write_text(probed.stdout)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "wbnative"), "--target",
        tmp_path / "server.json", "-o", tmp_path / "dist", "--index-url", index.url, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    assert "manylinux_" in made.archive.name
    with tarfile.open(made.archive) as tar:
        tar.extractall(root / "srv", filter="data")
    assert not list(root.glob("usr/lib/*/libwbnative*"))
    done = in_server(
        root,
        "cd /srv/* && ./install.sh /opt/app/venv && "
        "/opt/app/venv/bin/python -c 'import wbnative; print(wbnative.answer())'",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "42"


@pytest.mark.parametrize("suite", list(SUITES))
def test_a_bundle_carrying_its_python_installs_where_python_is_missing_or_old_or_refuses_early(
    suite: str,
    debian_cache: Path,
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    runtime: Path,
    tmp_path: Path,
) -> None:
    """Debian 13 with its Python removed, Debian 12 with its 3.11: both install from the
    runtime. Debian 11's glibc is older than the runtime needs: refused in the preflight."""
    root = debian_root(debian_cache, suite, tmp_path / "root")
    if suite == "trixie":
        for python in [*root.glob("usr/bin/python3*"), *root.glob("usr/lib/python3*")]:
            shutil.rmtree(
                python
            ) if python.is_dir() and not python.is_symlink() else python.unlink()
        assert in_server(root, "command -v python3").returncode != 0
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "alpha"), "--python-runtime", runtime,
        "-o", tmp_path / "dist", "--index-url", index.url, "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    with tarfile.open(made.archive) as tar:
        tar.extractall(root / "srv", filter="data")
    done = in_server(
        root,
        "cd /srv/* && ./install.sh /opt/app/venv && /opt/app/venv/bin/python -c "
        "'import alpha, beta, sys; print(sys.version.split()[0])' && /opt/app/venv/bin/pip check",
    )
    if suite == "bullseye":
        assert done.returncode == 3, done.stderr
        [error] = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert "cannot run here: this server is x86_64 with glibc 2.31" in error
        assert not (root / "opt/app").exists()
        assert not list((root / "tmp").glob("wheelbundle-runtime.*"))
        return
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith(f"{RUNTIME_VERSION}.")  # after install.sh's line
    assert "No broken requirements found." in done.stdout


def test_c_extensions_built_by_a_local_python_39_import_on_debian_11_offline(
    debian_cache: Path,
    capsys: pytest.CaptureFixture[str],
    make_index: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Debian 11 runs CPython 3.9; this machine's tool does not. Its sdists (one C extension,
    one linking a library only this machine has, as psycopg2 links libpq) are built by a
    local CPython 3.9, repaired, and import there with no network."""
    python39 = find_python("3.9")
    if python39 is None or shutil.which("gcc") is None:
        pytest.skip("needs a local CPython 3.9 (pyenv install 3.9) and gcc")
    root = debian_root(debian_cache, "bullseye", tmp_path / "root")
    library = tmp_path / "buildlibs"
    files = tmp_path / "files"
    sdists = [
        make_compiled_sdist(files, "crcext", "0.1"),
        make_compiled_sdist(files, "pqlike", "2.9", library_dir=library),
    ]
    pip = pip_wheel(files)
    assert pip is not None
    index = make_index(*sdists, pip)
    (root / "tmp/probe.py").write_text(bundle(capsys, "probe").out)
    probed = in_server(root, "python3 /tmp/probe.py")
    assert probed.returncode == 0, probed.stderr
    (tmp_path / "server.json").write_text(probed.stdout)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(library))
    made = bundle(
        capsys, "make", requirements(tmp_path / "app", "crcext", "pqlike"), "--target",
        tmp_path / "server.json", "-o", tmp_path / "dist", "--index-url", index.url,
    )  # fmt: skip
    assert made.code == 0, made.err
    assert "with cp39 3.9." in made.err
    (pq,) = (p for p in read_manifest(made.archive).packages if p.name == "pqlike")
    assert pq.built_by and pq.built_by.startswith("cp39 3.9.")
    assert [g.name for g in pq.grafted] == ["libpqlike-2.5.so.0"]  # carried in the wheel
    with tarfile.open(made.archive) as tar:
        tar.extractall(root / "srv", filter="data")
    done = in_server(
        root,
        "cd /srv/* && ./install.sh /opt/app/venv && /opt/app/venv/bin/python -c "
        "'import crcext, pqlike; print(crcext.answer() + pqlike.answer())'",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "84"
