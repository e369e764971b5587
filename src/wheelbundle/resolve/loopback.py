"""How the relay answers pip: a loopback HTTP server that serves the relay's pages and files
under this run's secret, streams a file to pip as it arrives, and holds back its last bytes until
the file matched its hash. What to serve is the relay's business (``resolve.relay``)."""

from __future__ import annotations

import hashlib
import sys
from email.message import Message
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from wheelbundle.errors import BundleError, FetchFailed
from wheelbundle.format.wheelfile import wheel_metadata
from wheelbundle.net.fetch import Download, Fetcher, Tee
from wheelbundle.resolve.choose import ARCHIVES

METADATA = ".metadata"
#: What pip asks an index for: PEP 691 JSON first (pip reads it several times faster than
#: HTML: on the web stack the relay's HTML cost pip 3 s of CPU), HTML as a fallback.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


class Served(Protocol):
    """What the server asks of the relay behind it (``resolve.relay.Relay``)."""

    fetcher: Fetcher
    failure: BundleError | None

    @property
    def root(self) -> str: ...
    def serves(self, path: str) -> bool: ...
    def original(self, url: str) -> str: ...
    def mirrored(self, url: str) -> str: ...
    def page(self, url: str, accept: str = PIP_ACCEPT) -> tuple[str, bytes | None, str]: ...
    def download(self, url: str) -> Download: ...
    def fetch(self, download: Download, tee: Tee | None = None) -> Path: ...
    def wait_for_file(self, url: str) -> None: ...
    def check_metadata(self, url: str, body: bytes) -> None: ...
    def read_ahead(self, metadata: Message) -> None: ...


class LoopbackServer(ThreadingHTTPServer):
    """The relay's HTTP side on 127.0.0.1: each of pip's requests answered in a thread."""

    daemon_threads = True

    def __init__(self, relay: Served):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.relay = relay

    def handle_error(self, request: object, client_address: object) -> None:
        """Not to stderr: pip hung up (its business), or the relay broke (kept as the failure)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError) and self.relay.failure is None:
            self.relay.failure = FetchFailed(f"the relay between pip and the index failed: {exc!r}")


class _ToPip:
    """A file's bytes handed to pip as they arrive from upstream, while the fetcher caches them.

    The last piece is held back until the whole file has matched its hash: a file that fails
    it reaches pip cut short, and pip fails rather than using it. A retried download starts
    again at its first byte: what pip already has is skipped, after checking it is the same.
    """

    def __init__(self, handler: _Handler):
        self.handler = handler
        self.length: int | None = None
        self._taken = 0
        self._taken_hash = hashlib.sha256()
        self._pending = b""
        self._seen = 0
        self._seen_hash = hashlib.sha256()
        self._gone = False

    def begin(self, length: int) -> None:
        if self.length is None:
            self.length = length
            self.handler._headers(HTTPStatus.OK, "application/octet-stream", length)
        elif length != self.length:
            raise FetchFailed(f"the index served {length} bytes, then {self.length}, for one file")
        self._seen, self._seen_hash = 0, hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        if self._seen < self._taken:  # a retry, over bytes pip already has
            again, chunk = chunk[: self._taken - self._seen], chunk[self._taken - self._seen :]
            self._seen += len(again)
            self._seen_hash.update(again)
            if self._seen == self._taken and self._seen_hash.digest() != self._taken_hash.digest():
                raise FetchFailed("the index served other bytes when the download was retried")
        if not chunk:
            return
        self._send(self._pending)
        self._pending = chunk
        self._taken += len(chunk)
        self._seen += len(chunk)
        self._taken_hash.update(chunk)

    def finish(self) -> None:
        """The file matched its hash: pip gets its last bytes."""
        self._send(self._pending)
        self._pending = b""

    def _send(self, data: bytes) -> None:
        if data and not self._gone:
            try:
                self.handler.wfile.write(data)
            except OSError:  # pip hung up: the file is still cached for the collect stage
                self._gone = True


class _Handler(BaseHTTPRequestHandler):
    """``/o/N/PATH``: PATH at the Nth origin, a page, a file, or a file's metadata."""

    protocol_version = "HTTP/1.1"  # pip keeps its connection to the relay alive
    disable_nagle_algorithm = True  # else each body waits ~40 ms for the ACK of its headers
    server: LoopbackServer

    def do_GET(self) -> None:
        relay = self.server.relay
        if not relay.serves(self.path):  # the secret first, in constant time
            self._send_bytes(None, "")  # not ours to answer: the same as for nothing there
            return
        url = relay.original(relay.root + self.path)
        try:
            if url.endswith(METADATA):  # PEP 658: small, and pip reads it instead of the wheel
                found = relay.fetcher.read(url)
                if found:
                    relay.check_metadata(url, found.body)
                    relay.read_ahead(HeaderParser().parsestr(found.text))
                self._send_bytes(found.body if found else None, "application/octet-stream")
            elif urlsplit(url).path.endswith(ARCHIVES):
                relay.wait_for_file(url)  # read ahead: then it is a cache hit
                to_pip = _ToPip(self)
                try:
                    path = relay.fetch(relay.download(url), to_pip)
                except BundleError:
                    if to_pip.length is None:
                        raise
                    self.close_connection = True  # pip has part of it: it must not get the rest
                    raise
                if to_pip.length is None:  # a cached file, or a server that gave no length
                    with path.open("rb") as f:
                        self._headers(
                            HTTPStatus.OK, "application/octet-stream", path.stat().st_size
                        )
                        self.connection.sendfile(f)
                else:
                    to_pip.finish()
                if path.suffix == ".whl":
                    relay.read_ahead(wheel_metadata(path))
            else:
                final, page, kind = relay.page(url, self.headers.get("Accept", PIP_ACCEPT))
                if final != url:
                    self._headers(HTTPStatus.FOUND, "text/plain", 0, relay.mirrored(final))
                else:
                    self._send_bytes(page, f"{kind}; charset=utf-8")
        except BundleError as exc:
            if relay.failure is None:
                relay.failure = exc
            if not self.close_connection:
                self._send_bytes(str(exc).encode(), "text/plain", HTTPStatus.FAILED_DEPENDENCY)

    def _send_bytes(
        self, body: bytes | None, content_type: str, status: HTTPStatus = HTTPStatus.OK
    ) -> None:
        if body is None:
            status, body, content_type = HTTPStatus.NOT_FOUND, b"not found", "text/plain"
        self._headers(status, content_type, len(body))
        self.wfile.write(body)

    def _headers(
        self, status: HTTPStatus, content_type: str, length: int, location: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        if location:
            self.send_header("Location", location)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """pip's requests are not the user's business."""
