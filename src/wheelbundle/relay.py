"""A loopback relay between pip and the indexes, so that no file is downloaded twice.

Where an index serves no PEP 658 metadata, pip's resolver downloads whole wheels to read their
dependencies, into a temporary folder it deletes when it exits; the bundle would then download
them all again. So pip is pointed at this relay instead of the indexes: it reads each project page
from the index and rewrites the file links to point back at itself; a file pip asks for is
downloaded by our fetcher into the content-addressed cache (hash-checked, over kept-alive
connections, with retries) and served to pip from there. The collect stage then finds it cached.

What pip downloads is still decided by what the index serves: on a page that offers metadata pip
asks for ``FILE.metadata``, which the relay passes through, and downloads no wheel at all. pip
itself sees only the relay, so it needs no credentials: the fetcher logs in upstream.
"""

from __future__ import annotations

import base64
import html
import re
import sys
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urljoin, urlsplit

from wheelbundle.errors import BundleError, FetchFailed
from wheelbundle.fetch import Download, Fetcher

_HREF = re.compile(r"""(?P<attr>\bhref\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""", re.I)
_BASE = re.compile(r"""<base\s[^>]*\bhref\s*=\s*["']([^"']+)["']""", re.I)
_METADATA = ".metadata"
_NO_HASH = "-"


class Relay:
    """Serve ``indexes`` to pip on 127.0.0.1, keeping every file pip downloads in the cache.

    A request the relay cannot serve (refused upstream, a file whose bytes do not match the
    index's hash) is answered with an error pip does not retry, and the first such error is kept
    in :attr:`failure`: pip's own message would only name the relay.
    """

    def __init__(self, indexes: Sequence[str], fetcher: Fetcher):
        self.indexes = [url.rstrip("/") + "/" for url in indexes]
        self.fetcher = fetcher
        self.failure: BundleError | None = None
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def pip_options(self) -> list[str]:
        """The index options that send pip to the relay instead of the indexes."""
        first, *extra = (f"{self.base}/index/{n}/" for n in range(len(self.indexes)))
        return ["--index-url", first, *(arg for url in extra for arg in ("--extra-index-url", url))]

    def original(self, url: str) -> str:
        """The index URL behind one of the relay's file URLs; any other URL as it is."""
        if not url.startswith(f"{self.base}/file/"):
            return url
        return _decode(urlsplit(url).path.split("/")[3])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self.fetcher.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def page(self, index: int, path: str) -> bytes | None:
        """A project page with each file link pointing at the relay; None when there is none."""
        found = self.fetcher.read_page(self.indexes[index] + path)
        if found is None:
            return None
        url, text = found
        if base := _BASE.search(text):
            url = urljoin(url, html.unescape(base[1]))
        return _HREF.sub(lambda m: self._link(m, url), text).encode()

    def file(self, sha256: str, upstream: str, name: str) -> Download:
        """What to fetch for one of the relay's file URLs."""
        return Download(
            url=upstream,
            filename=unquote(name),
            sha256=None if sha256 == _NO_HASH else sha256,
            label=unquote(name),
        )

    def _link(self, m: re.Match[str], page_url: str) -> str:
        url, _, fragment = urljoin(page_url, html.unescape(m["url"])).partition("#")
        algorithm, _, digest = fragment.partition("=")
        sha256 = digest.lower() if algorithm == "sha256" and digest else _NO_HASH
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        relayed = f"{self.base}/file/{sha256}/{_encode(url)}/{name}"
        if fragment:
            relayed += f"#{fragment}"
        return f"{m['attr']}{m['quote']}{html.escape(relayed)}{m['quote']}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, relay: Relay):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.relay = relay

    def handle_error(self, request: object, client_address: object) -> None:
        """Not to stderr: pip hung up (its business), or the relay broke (kept as the failure)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError) and self.relay.failure is None:
            self.relay.failure = FetchFailed(f"the relay between pip and the index failed: {exc!r}")


class _Handler(BaseHTTPRequestHandler):
    """``/index/N/PATH``: a page of the Nth index; ``/file/SHA256/UPSTREAM/NAME``: a file."""

    protocol_version = "HTTP/1.1"  # pip keeps its connection to the relay alive
    server: _Server

    def do_GET(self) -> None:
        relay = self.server.relay
        parts = urlsplit(self.path).path.split("/", 5)
        try:
            if parts[1] == "index" and len(parts) >= 3 and parts[2].isdigit():
                page = relay.page(int(parts[2]), "/".join(parts[3:]))
                self._send_bytes(page, "text/html; charset=utf-8")
            elif parts[1] == "file" and len(parts) == 5:
                self._send_file(relay, parts[2], _decode(parts[3]), parts[4])
            else:
                self._send_bytes(None, "")
        except BundleError as exc:
            if relay.failure is None:
                relay.failure = exc
            self._send_bytes(str(exc).encode(), "text/plain", HTTPStatus.FAILED_DEPENDENCY)

    def _send_file(self, relay: Relay, sha256: str, upstream: str, name: str) -> None:
        if name.endswith(_METADATA):  # PEP 658: small, and pip reads it instead of the wheel
            found = relay.fetcher.read(upstream + _METADATA)
            self._send_bytes(found[1] if found else None, "application/octet-stream")
            return
        path = relay.fetcher.fetch(relay.file(sha256, upstream, name))
        with path.open("rb") as f:
            self._headers(HTTPStatus.OK, "application/octet-stream", path.stat().st_size)
            self.connection.sendfile(f)

    def _send_bytes(
        self, body: bytes | None, content_type: str, status: HTTPStatus = HTTPStatus.OK
    ) -> None:
        if body is None:
            status, body, content_type = HTTPStatus.NOT_FOUND, b"not found", "text/plain"
        self._headers(status, content_type, len(body))
        self.wfile.write(body)

    def _headers(self, status: HTTPStatus, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """pip's requests are not the user's business."""


def _encode(url: str) -> str:
    return base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _decode(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
