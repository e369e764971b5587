"""In-house packages on a real devpi-server, bundled with dependencies from another index.

devpi-server runs on 127.0.0.1 (see `devpi.py`); `make test` provisions it and insists on it,
a bare `pytest` skips these tests when it is missing and says how to provision it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from support.bundles import Outcome, bundle, requirements, secrets_found, unpack
from support.devpi import REQUIRED_VARIABLE, DevpiServer, server_executable
from support.fixtures import RunOffline
from support.index import LocalIndex
from support.packages import make_sdist, make_wheel

from wheelbundle.format.manifest import Manifest

USER = "acme"
PASSWORD = "devpi-Pw-5r8Lq2x"
SECRETS = (
    PASSWORD,
    f"{USER}:{PASSWORD}",
    base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
)


@dataclass(frozen=True)
class AcmeIndex:
    """The acme/dev index on devpi, and what was uploaded to it."""

    server: DevpiServer
    url: str
    """Its simple URL, without credentials."""
    uploads: dict[str, Path]
    """Project name → the file uploaded."""

    def url_with_auth(self, user: str, password: str) -> str:
        return self.url.replace("http://", f"http://{user}:{password}@", 1)


@pytest.fixture(scope="module")
def devpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    """devpi-server, started for this module and stopped after it."""
    executable, how = server_executable()
    if executable is None:
        if os.environ.get(REQUIRED_VARIABLE) == "1":
            pytest.fail(how)
        pytest.skip(how)
    with DevpiServer(executable, tmp_path_factory.mktemp("devpi") / "server") as server:
        yield server


@pytest.fixture(scope="module")
def acme(devpi: DevpiServer, tmp_path_factory: pytest.TempPathFactory) -> AcmeIndex:
    """acme/dev: no bases, files readable by acme only, holding acme-core and acme-api.

    acme-core is a wheel that needs beta (served only by the local test index); acme-api is an
    sdist (built at bundle time) that needs acme-core.
    """
    folder = tmp_path_factory.mktemp("acme")
    core = make_wheel(
        folder,
        "acme-core",
        "1.0",
        requires=["beta>=2"],
        modules={"acme_core/__init__.py": "import beta\n\nBETA = beta.__version__\n"},
    )
    api = make_sdist(
        folder,
        "acme-api",
        "1.0",
        requires=["acme-core>=1.0"],
        modules={
            "acme_api/__init__.py": "from acme_core import BETA\n\nGREETING = f'api on beta {BETA}'\n"
        },
    )
    devpi.create_user(USER, PASSWORD)
    url = devpi.create_index(USER, PASSWORD, "dev", readers=[USER])
    for distribution in (core, api):
        devpi.upload(USER, PASSWORD, "dev", distribution)
    return AcmeIndex(devpi, url, {"acme-core": core, "acme-api": api})


@dataclass(frozen=True)
class Made:
    """What `bundle make` printed and left behind: the archive, its output, its cache."""

    outcome: Outcome
    cache: Path


@pytest.fixture(scope="module")
def made(
    acme: AcmeIndex,
    index: LocalIndex,
    tmp_path_factory: pytest.TempPathFactory,
    xdg_cache_home: Path,
) -> Made:
    """`bundle make --verbose` of a requirements file naming acme-api, run as a user runs it.

    devpi is the index, the local test index the extra one; pip sees no other configuration.
    """
    tmp = tmp_path_factory.mktemp("made")
    req = requirements(tmp / "acme-service", "acme-api")
    cache = tmp / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, XDG_CACHE_HOME=str(xdg_cache_home), NETRC=os.devnull)
    command = [sys.executable, "-m", "wheelbundle", "make", str(req), "-o", str(tmp / "dist")]
    command += ["--cache-dir", str(cache), "--verbose"]
    command += ["--index-url", acme.url_with_auth(USER, PASSWORD), "--extra-index-url", index.url]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return Made(Outcome(run.returncode, run.stdout, run.stderr), cache)


def test_the_in_house_packages_and_their_dependencies_are_bundled_with_their_origins(
    made: Made, acme: AcmeIndex, index: LocalIndex, packages_dir: Path, tmp_path: Path
) -> None:
    top = unpack(made.outcome.archive, tmp_path)
    manifest = Manifest.from_yaml((top / "manifest.yaml").read_text())
    packages = {p.name: p for p in manifest.packages}
    assert sorted(packages) == ["acme-api", "acme-core", "beta", "pip"]
    devpi_files = f"{acme.server.url}/acme/dev/+f/"

    core = packages["acme-core"]
    assert core.origin == "index-wheel"
    assert unquote(core.source_url).startswith(devpi_files)  # pip quotes "+" as %2B
    assert core.sha256 == core.source_sha256 == _sha256(acme.uploads["acme-core"])

    api = packages["acme-api"]
    assert api.origin == "built-from-sdist"
    assert unquote(api.source_url).startswith(devpi_files)
    assert api.source_sha256 == _sha256(acme.uploads["acme-api"])
    assert api.sha256 == _sha256(top / "wheels" / api.wheel)

    beta = packages["beta"]
    assert (beta.version, beta.origin) == ("2.0", "index-wheel")
    assert beta.source_url == index.file_url("beta-2.0-py3-none-any.whl")
    assert beta.sha256 == _sha256(packages_dir / "beta-2.0-py3-none-any.whl")


def test_the_credentials_are_nowhere_in_the_archive_the_output_or_the_cache(made: Made) -> None:
    outcome = made.outcome
    found = secrets_found(
        SECRETS, outcome.archive, [made.cache], stdout=outcome.out, stderr=outcome.err
    )
    assert found == []


def test_the_bundle_installs_offline_and_the_packages_import(
    made: Made, tmp_path: Path, offline: RunOffline
) -> None:
    top = unpack(made.outcome.archive, tmp_path / "server")
    venv = tmp_path / "venv"
    installed = offline([top / "install.sh", venv])
    assert installed.returncode == 0, installed.stderr
    greeting = offline([venv / "bin" / "python", "-c", "import acme_api; print(acme_api.GREETING)"])
    assert greeting.stdout.strip() == "api on beta 2.0", greeting.stderr


def test_devpi_refusing_the_files_to_a_wrong_password_is_one_error_line(
    acme: AcmeIndex, index: LocalIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = acme.url_with_auth(USER, "not-" + PASSWORD)
    req = requirements(tmp_path / "app", "acme-api")
    refused = bundle(
        capsys,
        "make",
        req,
        "-o",
        tmp_path / "dist",
        "--cache-dir",
        tmp_path / "cache",
        "--index-url",
        wrong,
        "--extra-index-url",
        index.url,
        "-q",
    )
    assert refused.code == 1
    assert refused.err.splitlines() == [
        "error: could not download acme_api-1.0.tar.gz: the index at "
        f"127.0.0.1:{acme.server.port} refused the credentials given for it (HTTP 403); check the "
        f"user name and password for 127.0.0.1:{acme.server.port} in the index URL (--index-url, "
        "--extra-index-url, the requirements file, PIP_INDEX_URL or pip.conf) or in ~/.netrc"
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
