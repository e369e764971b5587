"""A real pypiserver on 127.0.0.1, for the publishing test: a second upload API beside devpi's.

It comes from the same hash-pinned virtualenv as devpi-server (`make devpi`), with passlib for its
htpasswd file. Uploads need a login; anyone may read. No fallback to PyPI: a project the server
does not hold is a 404, as on a site's own index.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from support.devpi import START_TIMEOUT, _free_port


class PypiServer:
    """pypi-server over a fresh package folder, uploads allowed to ``user``, until closed."""

    def __init__(self, executable: Path, folder: Path, user: str, password: str) -> None:
        packages = folder / "packages"
        packages.mkdir(parents=True)
        htpasswd = folder / "htpasswd"
        subprocess.run(
            [
                executable.with_name("python"),
                "-c",
                "import sys; from passlib.apache import HtpasswdFile; "
                "f = HtpasswdFile(sys.argv[1], new=True); f.set_password(sys.argv[2], sys.argv[3]); "
                "f.save()",
                htpasswd,
                user,
                password,
            ],
            check=True,
            timeout=START_TIMEOUT,
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = folder / "pypiserver.log"
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [executable, "run", "-i", "127.0.0.1", "-p", str(self.port), "-P", htpasswd,
                 "-a", "update", "--disable-fallback", "--hash-algo", "sha256", packages],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            self._wait_until_it_answers()
        except BaseException:
            self.close()
            raise

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pypi-server exited at start:\n{self.log.read_text()}")
            try:
                with opener.open(self.url + "simple/", timeout=5):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError(f"pypi-server did not answer in {START_TIMEOUT} s")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)

    def __enter__(self) -> PypiServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
