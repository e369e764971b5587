"""Every server Python, as it is: a bundle made for it installs there offline, or install.sh
refuses it in its preflight with one line, before anything is written.

The bundle is made for the server as an operator would: ``bundle probe`` run there, then
``bundle make --target server.json``; install.sh then runs under that interpreter with the
network cut. A Python this machine lacks is a skip that names it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from support.bundles import bundle, requirements, unpack
from support.fixtures import RunOffline
from support.index import LocalIndex
from support.pythons import INSTALLABLE_VERSIONS, SERVER_VERSIONS, find_python, missing

pytestmark = pytest.mark.servers


def server_python(version: str) -> str:
    python = find_python(version)
    if python is None:
        pytest.skip(missing(version))
    return python


def probed(capsys: pytest.CaptureFixture[str], python: str, folder: Path) -> Path:
    """``bundle probe`` run with the server's Python: the description ``--target`` takes."""
    script = folder / "probe.py"
    script.write_text(bundle(capsys, "probe").out)
    described = subprocess.run(
        [python, script], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    server = folder / "server.json"
    server.write_text(described)
    return server


def made(capsys: pytest.CaptureFixture[str], folder: Path, index: LocalIndex, *args: str) -> Path:
    outcome = bundle(
        capsys, "make", requirements(folder / "app", "alpha"), "-o", folder / "dist",
        "--index-url", index.url, "-q", *args,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    return outcome.archive


@pytest.mark.parametrize("version", SERVER_VERSIONS)
def test_a_bundle_made_for_the_server_installs_there_offline_or_is_refused_in_one_line(
    version: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    index: LocalIndex,
    offline: RunOffline,
) -> None:
    python = server_python(version)
    venv = tmp_path / "srv" / "venv"
    if version not in INSTALLABLE_VERSIONS:
        top = unpack(made(capsys, tmp_path, index), tmp_path / "unpacked")
        refused = offline([top / "install.sh", "--python", python, venv])
        assert refused.returncode == 3
        [error] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert re.fullmatch(
            rf"error: installing needs Python 3\.8 or later; {re.escape(python)} is Python "
            rf"{re.escape(version)}\.\d+ \(name a newer one with --python PATH\)",
            error,
        )
        assert not (tmp_path / "srv").exists()
        return
    server = probed(capsys, python, tmp_path)
    archive = made(capsys, tmp_path, index, "--target", str(server))
    target = json.loads(server.read_text())["interpreter"]
    assert f"-{target}-" in archive.name or archive.name.endswith(f"-{target}-none-any.tar.gz")
    top = unpack(archive, tmp_path / "unpacked")
    done = offline([top / "install.sh", "--python", python, venv])
    assert done.returncode == 0, done.stderr
    venv_python = venv / "bin" / "python"
    imported = offline([venv_python, "-c", "import alpha, beta, sys; print(sys.version[:4])"])
    assert imported.stdout.split()[0].startswith(version), imported.stderr
    check = offline([venv_python, "-m", "pip", "check"])
    assert check.returncode == 0, check.stdout + check.stderr
