"""A real nginx serves ``bundle index``'s folder with the snippet the how-to gives: PEP 691 JSON
(api-version 1.1) to pip and uv, HTML to a client that asks for HTML, and both install from it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from support.bundles import bundle
from support.index import LocalIndex
from support.packages import make_project
from uv import find_uv_bin

HOWTO = Path(__file__).parents[2] / "docs" / "howto" / "index-and-publish.md"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (.ci/run installs Debian's where it can)"
)


def howto_snippet() -> str:
    [snippet] = re.findall(r"```nginx\n(.*?)```", HOWTO.read_text(), re.DOTALL)
    return str(snippet)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PYTHON"))}
    return {**env, "PIP_CONFIG_FILE": os.devnull, **extra}


@pytest.fixture
def site(capsys: pytest.CaptureFixture[str], index: LocalIndex, tmp_path: Path) -> Path:
    """myapp 1.0 (which needs alpha, which needs beta) bundled, then indexed into a folder."""
    project = make_project(tmp_path / "myapp", "myapp", "1.0", requires=["alpha"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        made = bundle(capsys, "make", project, "-o", tmp_path / "dist", "--index-url", index.url)
    assert made.code == 0, made.err
    indexed = bundle(capsys, "index", tmp_path / "site", Path(made.out.strip()))
    assert indexed.code == 0, indexed.err
    return tmp_path / "site"


@pytest.fixture
def nginx(site: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The how-to's snippet, as written but for its root and port, in a throw-away nginx."""
    assert NGINX is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = tmp_path / "nginx"
    run.mkdir()
    server = howto_snippet().replace("root /srv/pypi;", f"root {site};")
    server = server.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    temp = "".join(
        f"{kind}_temp_path {run}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (run / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {run}/nginx.pid;\nerror_log stderr;\n"
        "events {}\nhttp {\n"
        "log_format served '$request_uri $sent_http_content_type $http_user_agent';\n"
        f"access_log {run}/access.log served;\n{temp}{server}}}\n"
    )
    errors = run / "error.log"
    with errors.open("wb") as err:
        process = subprocess.Popen(
            [NGINX, "-p", str(run), "-c", str(run / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"nginx did not start: {errors.read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/simple/", run / "access.log"
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str, accept: str) -> tuple[str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get_content_type(), response.read()


def test_every_json_page_is_pep_691_version_1_1_with_versions_and_sizes(site: Path) -> None:
    pages = sorted((site / "simple").glob("*/index.json"))
    assert {p.parent.name for p in pages} == {"alpha", "beta", "myapp", "pip"}
    for page in pages:
        data = json.loads(page.read_text())
        assert data["meta"] == {"api-version": "1.1"}
        versions = {str(parse_wheel_filename(f["filename"])[1]) for f in data["files"]}
        assert sorted(data["versions"]) == sorted(versions)
        for file in data["files"]:
            wheel = (page.parent / file["url"]).resolve()
            assert file["size"] == wheel.stat().st_size
            assert "requires-python" not in file or isinstance(file["requires-python"], str)


def test_nginx_negotiates_json_for_pip_and_uv_and_both_install(
    nginx: tuple[str, Path], tmp_path: Path
) -> None:
    url, log = nginx
    kind, body = fetch(f"{url}alpha/", JSON_TYPE)
    assert kind == JSON_TYPE and json.loads(body)["name"] == "alpha"
    kind, body = fetch(f"{url}alpha/", "text/html")
    assert (
        kind == "text/html" and b'<a href="../../files/alpha-1.0-py3-none-any.whl#sha256=' in body
    )

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = subprocess.run(
        [venv / "bin/python", "-m", "pip", "install", "--no-cache-dir", "--index-url", url,
         "myapp"],
        capture_output=True, text=True, env=clean_env(), check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    uv_venv = tmp_path / "uv-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", uv_venv], check=True)
    uv = subprocess.run(
        [find_uv_bin(), "pip", "install", "--no-config", "--cache-dir", tmp_path / "uv-cache",
         "--python", uv_venv / "bin/python", "--index-url", url, "myapp"],
        capture_output=True, text=True, env=clean_env(), check=False,
    )  # fmt: skip
    assert uv.returncode == 0, uv.stderr
    for python in (venv, uv_venv):
        imported = subprocess.run(
            [python / "bin/python", "-c", "import myapp, alpha, beta"], capture_output=True
        )
        assert imported.returncode == 0, imported.stderr

    served = [line.split(" ", 2) for line in log.read_text().splitlines()]
    pages = {
        (agent.split("/")[0], kind) for path, kind, agent in served if path == "/simple/myapp/"
    }
    assert pages == {("pip", JSON_TYPE), ("uv", JSON_TYPE)}, served
