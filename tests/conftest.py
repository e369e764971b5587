"""Shared fixtures: hermetic pip, a folder of real fixture packages, local indexes, a network cut.

Nothing here reaches the public internet: pip sees only the indexes served from 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.fixtures import MakeIndex, RunOffline
from support.index import LocalIndex
from support.packages import (
    console_script_module,
    make_sdist,
    make_uv_wheel,
    make_wheel,
    native_tag,
    pip_wheel,
)
from support.runtimes import RUNTIME_VERSION, make_runtime

# A suite started where SIGINT is ignored (as a shell does for a job run with & in a script, or
# a CI runner may) would hand that to every child, and the tests that press Ctrl-C on a child
# would wait for it forever. Python's own handler is reset to the default at exec: the children
# get a Ctrl-C as a terminal would deliver it, whatever started the suite.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def xdg_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder per session, so neither pip nor the tool writes into the user's home."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def pip_isolation(monkeypatch: pytest.MonkeyPatch, xdg_cache_home: Path) -> None:
    """Hide the machine's pip configuration (pip.conf, `PIP_*`) from every test and its children.

    Build machines carry extra indexes and find-links folders; a test that saw them would resolve
    against them instead of the local index. A test may give pip a configuration file of its own
    (`PIP_CONFIG_FILE`): pip reads it *after* the user's and the machine's (`~/.config/pip`,
    `/etc/xdg/pip`, which may set constraints or find-links), so those folders are moved to empty
    ones. `/etc/pip.conf` cannot be moved. `SOURCE_DATE_EPOCH` goes too, unless a test sets it.
    """
    for variable in list(os.environ):
        if variable.startswith("PIP_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg_cache_home / "no-config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(xdg_cache_home / "no-config"))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg_cache_home))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture(scope="session")
def packages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the standard fixture packages (see the table in `_make_fixture_packages`).

    Shared by the whole session: treat it as read-only, and copy files out to change them.
    """
    folder = tmp_path_factory.mktemp("packages")
    _make_fixture_packages(folder)
    return folder


def _make_fixture_packages(folder: Path) -> None:
    """Write every standard fixture package into `folder`, each with deterministic bytes."""
    make_wheel(folder, "alpha", "1.0", requires=["beta>=1.0"])
    make_wheel(folder, "beta", "1.0")
    make_wheel(folder, "beta", "2.0")
    make_sdist(folder, "gamma", "1.0", requires=["beta"])
    make_wheel(folder, "delta", "1.0", extras={"fast": ["epsilon"]})
    make_wheel(folder, "epsilon", "1.0")
    make_wheel(
        folder,
        "zeta",
        "1.0",
        requires=['eta; sys_platform == "win32"', 'theta; sys_platform != "win32"'],
    )
    make_wheel(folder, "eta", "1.0")
    make_wheel(folder, "theta", "1.0")
    make_sdist(folder, "broken", "1.0", fail_build=True)
    make_wheel(folder, "conflict-a", "1.0", requires=["beta<2"])
    make_wheel(folder, "conflict-b", "1.0", requires=["beta>=2"])
    make_wheel(folder, "native", "1.0", tag=native_tag())
    make_wheel(
        folder,
        "webapp-core",
        "1.0",
        modules={
            "webapp_core/__init__.py": '__version__ = "1.0"\n'
            + console_script_module("hello from webapp-core")
        },
        entry_points={"console_scripts": {"webapp-hello": "webapp_core:main"}},
    )
    pip_wheel(folder)


@pytest.fixture(scope="session")
def uv_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv's wheel for this machine, holding the real uv program: made once, 18 MB, read-only."""
    return make_uv_wheel(tmp_path_factory.mktemp("uv-wheel"))


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A relocatable CPython laid out as python-build-standalone's install_only archives are."""
    made = make_runtime(RUNTIME_VERSION, tmp_path_factory.mktemp("runtime"))
    if made is None:
        pytest.skip(f"no shared-library build of CPython {RUNTIME_VERSION} here (pyenv makes one)")
    return made


@pytest.fixture(scope="session")
def index(packages_dir: Path) -> Iterator[LocalIndex]:
    """The fixture packages on a local index that offers PEP 658 metadata.

    Session-wide: do not `add` or `tamper` here; use `make_index` for a private one. Counts
    accumulate across tests: call `reset_requests()` before the step you assert on.
    """
    with LocalIndex(packages_dir, metadata=True) as served:
        yield served


@pytest.fixture(scope="session")
def index_nometa(packages_dir: Path) -> Iterator[LocalIndex]:
    """The same files without PEP 658 metadata: pip must download whole wheels to resolve."""
    with LocalIndex(packages_dir, metadata=False) as served:
        yield served


@pytest.fixture
def make_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeIndex]:
    """A factory of private indexes (own folder, own counters) that a test may change freely.

    `make_index(*files, metadata=True, username=None, password=None)` copies `files` into a new
    folder and serves it; every index is closed when the test ends.
    """
    made: list[LocalIndex] = []

    def factory(*files: Path, **options: Any) -> LocalIndex:
        folder = tmp_path_factory.mktemp("index")
        for file in files:
            shutil.copyfile(file, folder / file.name)
        served = LocalIndex(folder, **options)
        made.append(served)
        return served

    yield factory
    for served in made:
        served.close()


def _unshare_prefix() -> list[str]:
    """The command prefix that cuts the network: plain `unshare -n` needs root."""
    if os.geteuid() == 0:
        return ["unshare", "-n"]
    return ["unshare", "-rn"]


@pytest.fixture(scope="session")
def _network_cut() -> list[str]:
    """Probe once whether this machine lets us cut the network; skip the user if not."""
    if shutil.which("unshare") is None:
        pytest.skip("offline tests need `unshare` (util-linux), which is not installed")
    prefix = _unshare_prefix()
    try:
        probe = subprocess.run(
            [*prefix, "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as error:
        pytest.skip(f"cannot run {' '.join(prefix)}: {error}")
    if probe.returncode != 0:
        reason = probe.stderr.strip() or f"exit status {probe.returncode}"
        pytest.skip(f"cannot cut the network with {' '.join(prefix)}: {reason}")
    return prefix


@pytest.fixture
def offline(_network_cut: list[str]) -> RunOffline:
    """`run_offline(cmd, **kw)`: run a command in a fresh network namespace (no route anywhere).

    Even the local indexes are out of reach, exactly as on an air-gapped server. Keyword
    arguments go to `subprocess.run`; output is captured as text, with a 300 s timeout and
    no `check`, unless the caller says otherwise.
    """

    def run_offline(
        cmd: Sequence[str | os.PathLike[str]], **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 300)
        kw.setdefault("check", False)
        result: subprocess.CompletedProcess[str] = subprocess.run(
            [*_network_cut, *(os.fspath(part) for part in cmd)], **kw
        )
        return result

    return run_offline


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key: an index no system CA vouches for."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def example_wheels() -> Path:
    """The public wheels the examples name, which ``make test`` fetched (hash-checked) once;
    the tests skip, with how to fetch them, if not."""
    given = os.environ.get("WHEELBUNDLE_EXAMPLE_WHEELS")
    folder = (
        Path(given) if given else Path(__file__).resolve().parents[1] / ".cache" / "example-wheels"
    )
    if not (folder / ".fetched").is_file():
        if given:
            pytest.fail(f"{folder} holds no fetched example wheels; run 'make test'")
        pytest.skip("the example wheels are not fetched; 'make test' fetches them once")
    return folder
