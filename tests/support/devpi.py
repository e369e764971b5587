"""A real devpi-server on 127.0.0.1, for the private-index integration test.

devpi-server comes from the public index into a virtualenv of its own, because its dependencies
must not mix with ours: `make devpi` makes `.venv-devpi/`, and `make test` passes its
devpi-server as `WHEELBUNDLE_DEVPI_SERVER`. The server never leaves the loopback interface: no
`root/pypi` mirror, `--offline-mode`, indexes without bases. The read-ACL plugin in
`devpi_plugin/` makes an index's files readable with credentials only.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from packaging.utils import parse_sdist_filename, parse_wheel_filename

SERVER_VARIABLE = "WHEELBUNDLE_DEVPI_SERVER"
"""The devpi-server executable to run; default: `.venv-devpi/bin/devpi-server` in the checkout."""
REQUIRED_VARIABLE = "WHEELBUNDLE_REQUIRE_DEVPI"
"""Set to 1 (by `make test`) to fail rather than skip when devpi-server is missing."""
DEFAULT_SERVER = Path(__file__).resolve().parents[2] / ".venv-devpi" / "bin" / "devpi-server"
PLUGIN_DIR = Path(__file__).resolve().parents[1] / "devpi_plugin"
START_TIMEOUT = 60.0

# Key derivation for the server secret: devpi's defaults (512 MiB, 16 passes) take 10-20 s of
# CPU at every start; a throw-away test server needs none of that strength.
_CHEAP_SECRET = [
    "--argon2-time-cost",
    "1",
    "--argon2-memory-cost",
    "8",
    "--argon2-parallelism",
    "1",
]


def server_executable() -> tuple[Path | None, str]:
    """The devpi-server to run, or None and how to provision it."""
    given = os.environ.get(SERVER_VARIABLE)
    path = Path(given) if given else DEFAULT_SERVER
    if path.is_file() and os.access(path, os.X_OK):
        return path, ""
    return None, (
        f"devpi-server not found at {path}: run `make devpi` (a virtualenv .venv-devpi/ with "
        f"devpi-server from PyPI), or set {SERVER_VARIABLE} to a devpi-server executable"
    )


class DevpiServer:
    """devpi-server in a fresh server folder, on a free port of 127.0.0.1, until closed."""

    def __init__(self, executable: Path, serverdir: Path) -> None:
        self.serverdir = serverdir
        self.log = serverdir.parent / f"{serverdir.name}.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["PYTHONPATH"] = str(PLUGIN_DIR)
        subprocess.run(
            [
                executable.with_name("devpi-init"),
                "--serverdir",
                serverdir,
                "--no-root-pypi",
                "--root-passwd",
                secrets.token_hex(16),
            ],
            env=env,
            capture_output=True,
            check=True,
            timeout=START_TIMEOUT,
        )
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    executable,
                    "--serverdir",
                    serverdir,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--offline-mode",
                    *_CHEAP_SECRET,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.close()
            raise

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"devpi-server exited at start:\n{self._log_tail()}")
            try:
                self.request("GET", "/+api")
                return
            except urllib.error.URLError as exc:
                if getattr(exc.reason, "errno", None) == errno.ENETUNREACH:
                    raise RuntimeError(
                        "127.0.0.1 is unreachable: the loopback interface is down "
                        "(after `unshare -n`, run `ip link set lo up` first)"
                    ) from exc
                time.sleep(0.1)
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"devpi-server did not answer in {START_TIMEOUT} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        login: tuple[str, str] | None = None,
    ) -> Any:
        """One call to devpi's HTTP API; the decoded JSON answer (None when it is not JSON)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if login is not None:
            token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            body = response.read()
        try:
            return json.loads(body)
        except ValueError:
            return None

    def create_user(self, user: str, password: str) -> None:
        body = {"password": password, "email": f"{user}@example.com"}
        self.request("PUT", f"/{user}", data=json.dumps(body).encode())

    def create_index(self, user: str, password: str, name: str, *, readers: list[str]) -> str:
        """An index with no bases (it never proxies PyPI) whose files only `readers` may get.

        Returns its simple URL, without credentials.
        """
        body = {"bases": [], "volatile": False, "acl_read": readers}
        self.request(
            "PUT", f"/{user}/{name}", data=json.dumps(body).encode(), login=(user, password)
        )
        return f"{self.url}/{user}/{name}/+simple/"

    def upload(self, user: str, password: str, index: str, distribution: Path) -> None:
        """Upload as twine does: the legacy API, a multipart POST with `:action=file_upload`."""
        if distribution.name.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(distribution.name)
            kind = {"filetype": "bdist_wheel", "pyversion": "py3"}
        else:
            name, version = parse_sdist_filename(distribution.name)
            kind = {"filetype": "sdist", "pyversion": "source"}
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "metadata_version": "2.1",
            "name": name,
            "version": str(version),
            **kind,
        }
        body, content_type = _multipart(fields, distribution)
        self.request(
            "POST",
            f"/{user}/{index}/",
            data=body,
            content_type=content_type,
            login=(user, password),
        )

    def close(self) -> None:
        """Stop the server (politely, then not) and wait for it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)

    def __enter__(self) -> DevpiServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _multipart(fields: dict[str, str], file: Path) -> tuple[bytes, str]:
    """A multipart/form-data body: the fields, then the file as `content`."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
        f'filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + file.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
