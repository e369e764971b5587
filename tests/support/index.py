"""A PEP 503 simple index on 127.0.0.1, so tests resolve with pip and never touch the internet.

Pages are generated on every request from the folder's current content, so a test can add a file
and pip sees it at once. Run it by hand with `python tests/support/index.py DIR`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import html
import json as json_module
import shutil
import ssl
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

SIMPLE_PREFIX = "/simple/"
_JSON = "application/vnd.pypi.simple.v1+json"
FILES_PREFIX = "/files/"
METADATA_SUFFIX = ".metadata"


@dataclass(frozen=True)
class _Dist:
    """What the index knows about one distribution file."""

    filename: str
    project: NormalizedName
    sha256: str
    """Hex digest of the bytes on disk when first seen: what the index advertises."""
    requires_python: str | None
    metadata: bytes | None
    """The wheel's METADATA, served as `<file>.metadata` (PEP 658); None for sdists."""


def _project_of(filename: str) -> NormalizedName | None:
    """The canonical project a distribution file belongs to, or None if it is no distribution."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _wheel_metadata(path: Path) -> bytes | None:
    """The METADATA of a wheel's `.dist-info` folder, or None if it has none."""
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            top, _, rest = member.partition("/")
            if top.endswith(".dist-info") and rest == "METADATA":
                return archive.read(member)
    return None


class LocalIndex:
    """Serve a folder of wheels and sdists as a simple index on an ephemeral port.

    `requests` counts every request path, so a test can assert exactly what pip fetched.
    With `metadata=False` no PEP 658 metadata is offered, which forces pip to download whole
    wheels while resolving, like the plain indexes many build machines reach. With
    `hashes=False` links carry no `#sha256=` fragment (PEP 503 only recommends it). With
    `json=True` a client that asks for PEP 691 JSON (as pip and uv do) gets it, as from PyPI.
    With `delay`, every project page comes that many seconds late, as from a slow index. With
    `client_ca` (and `tls`), only a client that shows a certificate that CA signed is served.
    """

    def __init__(
        self,
        root: Path,
        *,
        metadata: bool = True,
        hashes: bool = True,
        username: str | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        json: bool = False,
        delay: float = 0.0,
        client_ca: Path | None = None,
    ) -> None:
        self.root = root
        self.delay = delay
        self.metadata = metadata
        self.hashes = hashes
        self.json = json
        self.requests: Counter[str] = Counter()
        root.mkdir(parents=True, exist_ok=True)
        self._credentials = (
            None
            if username is None
            else base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
        )
        self._lock = threading.Lock()
        self._dists: dict[str, tuple[tuple[int, int], _Dist]] = {}
        self._tampered: dict[str, bytes] = {}
        self._cut_short: dict[str, int] = {}
        self._pages: dict[str, bytes] = {}
        self._server = _Server((host, port), _Handler, self)
        self.scheme = "http"
        if tls is not None:  # (certificate, key): HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            if client_ca is not None:  # mutual TLS: only a client with a certificate it vouches for
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(client_ca)
            # Each handshake in its connection's own thread, as a real server does: in the
            # accept loop, one client slow to say hello would stall every other connection.
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalIndex:{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The index URL to hand to `pip --index-url`."""
        return f"{self.scheme}://127.0.0.1:{self.port}{SIMPLE_PREFIX}"

    def url_with_auth(self, username: str, password: str) -> str:
        """The index URL with credentials inside, as users write it in pip.conf."""
        return f"http://{username}:{password}@127.0.0.1:{self.port}{SIMPLE_PREFIX}"

    def file_url(self, filename: str) -> str:
        """Where the index serves one distribution file."""
        return f"{self.scheme}://127.0.0.1:{self.port}{FILES_PREFIX}{filename}"

    def add(self, path: Path) -> Path:
        """Copy a distribution file into the served folder; pip sees it on its next request."""
        target = self.root / path.name
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        return target

    def tamper(self, filename: str, data: bytes | None = None) -> None:
        """Serve other bytes for `filename` while still advertising the original hash.

        The file on disk is left alone (the folder may be shared); only the served bytes change.
        """
        original = self._dist(self.root / filename)
        if original is None:
            raise FileNotFoundError(self.root / filename)
        replacement = data if data is not None else (self.root / filename).read_bytes() + b"\0"
        with self._lock:
            self._tampered[filename] = replacement

    def tamper_metadata(self, filename: str) -> None:
        """Serve other bytes for the wheel's PEP 658 `.metadata` than its advertised hash."""
        dist = self._dist(self.root / filename)
        if dist is None or dist.metadata is None:
            raise FileNotFoundError(self.root / filename)
        with self._lock:
            self._tampered[filename + METADATA_SUFFIX] = dist.metadata + b"X-Tampered: yes\n"

    def cut_short(self, filename: str, times: int = 1) -> None:
        """The next `times` downloads of `filename` announce its whole length and send half,
        then the connection closes: a transfer the network cut short."""
        with self._lock:
            self._cut_short[filename] = times

    def serve_page(self, project: str, body: bytes) -> None:
        """Answer a JSON client's request for `project`'s page with `body` as it is."""
        with self._lock:
            self._pages[project] = body

    def reset_requests(self) -> None:
        """Forget the request counts, to assert on what one step fetched."""
        with self._lock:
            self.requests.clear()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # What the request handler asks for.

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1

    def _cuts_short(self, filename: str) -> bool:
        with self._lock:
            left = self._cut_short.get(filename, 0)
            if left:
                self._cut_short[filename] = left - 1
        return left > 0

    def _authorized(self, header: str | None) -> bool:
        if self._credentials is None:
            return True
        return header == f"Basic {self._credentials}"

    def _dist(self, path: Path) -> _Dist | None:
        """Facts about one file, cached until its size or mtime changes."""
        project = _project_of(path.name)
        if project is None or not path.is_file():
            return None
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._dists.get(path.name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data = path.read_bytes()
        metadata = None
        requires_python = None
        if path.name.endswith(".whl"):
            metadata = _wheel_metadata(path)
            if metadata is not None:
                requires_python = BytesHeaderParser().parsebytes(metadata).get("Requires-Python")
        dist = _Dist(
            filename=path.name,
            project=project,
            sha256=hashlib.sha256(data).hexdigest(),
            requires_python=requires_python,
            metadata=metadata,
        )
        with self._lock:
            self._dists[path.name] = (stamp, dist)
        return dist

    def _all_dists(self) -> list[_Dist]:
        found = (self._dist(path) for path in sorted(self.root.iterdir()))
        return [dist for dist in found if dist is not None]

    def _root_page(self) -> str:
        projects = sorted({dist.project for dist in self._all_dists()})
        links = "".join(f'<a href="{SIMPLE_PREFIX}{p}/">{p}</a>\n' for p in projects)
        return _page("Simple index", links)

    def _project_json(self, project: str) -> bytes | None:
        """The project's page as PEP 691 JSON (version 1.1: with each file's size)."""
        with self._lock:
            given = self._pages.get(project)
        if given is not None:
            return given
        dists = [dist for dist in self._all_dists() if dist.project == project]
        if not dists:
            return None
        files = []
        for dist in dists:
            entry: dict[str, Any] = {
                "filename": dist.filename,
                "url": f"{FILES_PREFIX}{dist.filename}",
                "hashes": {"sha256": dist.sha256} if self.hashes else {},
                "size": (self.root / dist.filename).stat().st_size,
            }
            if dist.requires_python:
                entry["requires-python"] = dist.requires_python
            if self.metadata and dist.metadata is not None:
                entry["core-metadata"] = {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
            files.append(entry)
        versions = sorted({_version_of(dist.filename) for dist in dists})
        page = {"meta": {"api-version": "1.1"}, "name": project, "versions": versions}
        return json_module.dumps({**page, "files": files}).encode()

    def _project_page(self, project: str) -> str | None:
        dists = [dist for dist in self._all_dists() if dist.project == project]
        if not dists:
            return None
        return _page(f"Links for {project}", "".join(self._anchor(dist) for dist in dists))

    def _anchor(self, dist: _Dist) -> str:
        fragment = f"#sha256={dist.sha256}" if self.hashes else ""
        attributes = [f'href="{FILES_PREFIX}{dist.filename}{fragment}"']
        if dist.requires_python:
            attributes.append(f'data-requires-python="{html.escape(dist.requires_python)}"')
        if self.metadata and dist.metadata is not None:
            digest = hashlib.sha256(dist.metadata).hexdigest()
            attributes.append(f'data-dist-info-metadata="sha256={digest}"')
            attributes.append(f'data-core-metadata="sha256={digest}"')
        return f"<a {' '.join(attributes)}>{html.escape(dist.filename)}</a>\n"

    def _file(self, filename: str) -> bytes | None:
        """The bytes served at `/files/<filename>`, honouring tampering and the metadata switch."""
        if "/" in filename or filename.startswith("."):
            return None
        with self._lock:
            tampered = self._tampered.get(filename)
        if tampered is not None:
            return tampered
        if filename.endswith(METADATA_SUFFIX):
            dist = self._dist(self.root / filename.removesuffix(METADATA_SUFFIX))
            return dist.metadata if self.metadata and dist is not None else None
        path = self.root / filename
        return path.read_bytes() if self._dist(path) is not None else None


def _version_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def _page(title: str, body: str) -> str:
    """A PEP 503 HTML page (the repository API version meta tag is PEP 629)."""
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


class _Server(ThreadingHTTPServer):
    """An HTTP server that knows its index and never writes to stderr."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], index: LocalIndex
    ) -> None:
        self.index = index
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.do_handshake()  # in the connection's thread (see LocalIndex.__init__)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: pip hanging up mid-response is normal and says nothing about the test."""


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and HEAD for the simple pages, the files and their metadata."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request logs would bury pytest's own output."""

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def _respond(self, *, send_body: bool) -> None:
        index = self.server.index
        path = unquote(urlsplit(self.path).path)
        index._count(path)
        if not index._authorized(self.headers.get("Authorization")):
            self._send(
                HTTPStatus.UNAUTHORIZED,
                b"authentication required\n",
                "text/plain",
                send_body,
                {"WWW-Authenticate": 'Basic realm="wheelbundle-tests"'},
            )
            return
        if path in ("/", SIMPLE_PREFIX.rstrip("/")):
            self._redirect(SIMPLE_PREFIX, send_body)
        elif path == SIMPLE_PREFIX:
            self._send_page(index._root_page(), send_body)
        elif path.startswith(SIMPLE_PREFIX):
            self._project(path.removeprefix(SIMPLE_PREFIX), send_body)
        elif path.startswith(FILES_PREFIX):
            filename = path.removeprefix(FILES_PREFIX)
            data = index._file(filename)
            if data is None:
                self._not_found(send_body)
            elif send_body and index._cuts_short(filename):
                self._send_half(data)
            else:
                self._send(HTTPStatus.OK, data, "application/octet-stream", send_body)
        else:
            self._not_found(send_body)

    def _project(self, rest: str, send_body: bool) -> None:
        time.sleep(self.server.index.delay)
        name = rest.rstrip("/")
        canonical = canonicalize_name(name)
        if not name or "/" in name:
            self._not_found(send_body)
        elif rest != f"{canonical}/":
            self._redirect(f"{SIMPLE_PREFIX}{canonical}/", send_body)
        elif self.server.index.json and _JSON in self.headers.get("Accept", ""):
            body = self.server.index._project_json(canonical)
            if body is None:
                self._not_found(send_body)
            else:
                self._send(HTTPStatus.OK, body, _JSON, send_body, {"Vary": "Accept"})
        else:
            page = self.server.index._project_page(canonical)
            if page is None:
                self._not_found(send_body)
            else:
                self._send_page(page, send_body)

    def _send_page(self, page: str, send_body: bool) -> None:
        self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8", send_body)

    def _send_half(self, data: bytes) -> None:
        """The whole length announced, half the bytes sent, the connection closed."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _redirect(self, location: str, send_body: bool) -> None:
        self._send(
            HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain", send_body, {"Location": location}
        )

    def _not_found(self, send_body: bool) -> None:
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", send_body)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        send_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    """Serve a folder until interrupted; the URL goes to stdout for pip's `--index-url`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", type=Path, help="folder of wheels and sdists to serve")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    parser.add_argument(
        "--no-metadata", action="store_true", help="do not offer PEP 658 metadata files"
    )
    parser.add_argument("--username", help="require HTTP basic auth with this user")
    parser.add_argument("--password", help="password for --username")
    args = parser.parse_args(argv)
    with LocalIndex(
        args.directory,
        metadata=not args.no_metadata,
        username=args.username,
        password=args.password,
        port=args.port,
    ) as index:
        sys.stdout.write(f"{index.url}\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A plain static file server on loopback, as ``python -m http.server`` is: no negotiation."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
